#include "model/model.h"  // points up: the checker must fail on this

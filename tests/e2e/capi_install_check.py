"""libqasr installed like a library: `cmake --install` into a prefix puts qasr.h, the
shared library (soname libqasr.so.1, only qasr_* exported), qasr.pc and the CMake package;
examples/c/transcribe.c then builds with pkg-config and with find_package(qasr), runs on a
tiny model, and prints the CLI's token ids.
Usage: capi_install_check.py QASR BUILD_DIR SOURCE_DIR DATA WORK
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402

QASR, BUILD, SRC, DATA, WORK = sys.argv[1:6]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
prefix = os.path.join(WORK, "prefix")


def run(cmd, env=None, timeout=600):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


r = run(["cmake", "--install", BUILD, "--prefix", prefix])
check(r.returncode == 0, f"cmake --install: {r.stderr.strip()[-300:]}")
lib = os.path.join(prefix, "lib")
for rel in ("include/qasr.h", "lib/libqasr.so", "lib/libqasr.so.1", "lib/pkgconfig/qasr.pc",
            "lib/cmake/qasr/qasrConfig.cmake", "lib/cmake/qasr/qasrTargets.cmake", "bin/qasr"):
    check(os.path.exists(os.path.join(prefix, rel)), f"installed {rel}")
so = os.path.realpath(os.path.join(lib, "libqasr.so"))
d = run(["readelf", "-d", so])
check("Library soname: [libqasr.so.1]" in d.stdout, "soname libqasr.so.1")
nm = run(["nm", "-D", "--defined-only", so])
syms = [line.split()[-1] for line in nm.stdout.splitlines() if line.strip()]
others = [s for s in syms if not s.startswith("qasr_")]
check(len(syms) > 30 and not others, f"{len(syms)} exported symbols, all qasr_* (others: {others[:5]})")

tiny = os.path.join(WORK, "tiny")
run([QASR, "synth", "--preset", "tiny", "--seed", "7", "-o", tiny])
wav = os.path.join(DATA, "audio", "whisper.cpp_jfk.wav")
cli = run([QASR, "transcribe", "--model", tiny, wav, "--json", "--max-new-tokens", "16", "--threads", "2"])
want = [str(t) for t in json.loads(cli.stdout)["token_ids"]] if cli.returncode == 0 else ["?"]
env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(lib, "pkgconfig"), LD_LIBRARY_PATH=lib)


def tokens_of(out):
    return next((line.split()[1:] for line in out.splitlines() if line.startswith("tokens:")), None)


# pkg-config
cflags = run(["pkg-config", "--cflags", "--libs", "qasr"], env=env)
check(cflags.returncode == 0 and "-lqasr" in cflags.stdout, f"pkg-config qasr: {cflags.stdout.strip()}")
exe = os.path.join(WORK, "transcribe-pc")
cc = run(["cc", "-std=c99", "-Wall", "-Werror", os.path.join(SRC, "examples/c/transcribe.c"), "-o", exe,
          *cflags.stdout.split()], env=env)
check(cc.returncode == 0, f"cc with pkg-config flags: {cc.stderr.strip()[-300:]}")
if cc.returncode == 0:
    r = run([exe, tiny, wav], env=env)
    check(r.returncode == 0 and tokens_of(r.stdout) == want, f"the pkg-config build prints the CLI's tokens: {r.stdout.strip()[-120:]}")
# CMake package
b = os.path.join(WORK, "cmake-build")
r = run(["cmake", "-S", os.path.join(SRC, "examples/c"), "-B", b, f"-DCMAKE_PREFIX_PATH={prefix}", "-G", "Ninja"])
check(r.returncode == 0, f"find_package(qasr): {r.stderr.strip()[-300:]}")
r = run(["cmake", "--build", b])
check(r.returncode == 0, f"the CMake build: {r.stdout.strip()[-300:]}")
if r.returncode == 0:
    r = run([os.path.join(b, "transcribe"), tiny, wav], env=env)
    check(r.returncode == 0 and tokens_of(r.stdout) == want, "the CMake build prints the CLI's tokens")
    bad = run([os.path.join(b, "transcribe"), tiny, "/nonexistent.wav"], env=env)
    check(bad.returncode == 1 and "not_found" in bad.stderr, f"an error reaches C: {bad.stderr.strip()}")
finish("install checks")

"""Installs the qasr Python package with the libqasr it was built beside.

    python3 -m pip install ./python          # from the source tree, after the CMake build

No pyproject.toml on purpose: pip then builds in the current environment with the setuptools it
already has, so the install works offline (a venv made by Debian's python3-venv has setuptools).
The library copied into the package is $QASR_LIBRARY, else ../build/libqasr.so.1; without one the
package falls back to the system's libqasr (cmake --install) at import."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(HERE, "..", "CMakeLists.txt")) as f:
        for line in f:
            if line.strip().startswith("project(") and "VERSION" in line:
                return line.split("VERSION")[1].split()[0].strip(")")
    return "0.0.0"


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        lib = os.environ.get("QASR_LIBRARY") or os.path.join(HERE, "..", "build", "libqasr.so.1")
        if os.path.exists(lib):
            dest = os.path.join(self.build_lib, "qasr", "libqasr.so.1")
            shutil.copyfile(os.path.realpath(lib), dest)
            print(f"qasr: bundled {os.path.realpath(lib)}")
        else:
            print("qasr: no libqasr.so.1 to bundle (set QASR_LIBRARY); the system's is used at import")


setup(name="qasr", version=version(), description="Qwen3-ASR speech recognition on CPU (libqasr over ctypes)",
      packages=["qasr"], package_data={"qasr": ["py.typed"]}, python_requires=">=3.9",
      cmdclass={"build_py": BuildWithLibrary}, zip_safe=False)

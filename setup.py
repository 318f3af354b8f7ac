"""Build tinytensor's Cython extensions.

Environment switches:
  TINYTENSOR_CYTHON_DEBUG=1   bounds and initialisation checks on in every kernel (slow, for tests)
  TINYTENSOR_OPENMP=0         build serial kernels even where OpenMP is available
  TINYTENSOR_REQUIRE_OPENMP=1 fail instead of falling back to serial kernels
  TINYTENSOR_ANNOTATE=1       write cython -a HTML next to the generated C (build/cython-*/)
  TINYTENSOR_BUILD_JOBS=n     cythonize and compile n files at a time (default: the cores
                              this process may use; `build_ext -j n` overrides it too)
"""
import glob
import os
import sys
import tempfile
import warnings

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError, LinkError

DEBUG = os.environ.get("TINYTENSOR_CYTHON_DEBUG", "0") != "0"
ANNOTATE = os.environ.get("TINYTENSOR_ANNOTATE", "0") != "0"
MODE = "debug" if DEBUG else "release"
# Directives that carry meaning (wraparound, cdivision) live in each file's header; these two
# are a policy of the build, so a header directive must not override them.
DIRECTIVES = {"boundscheck": DEBUG, "initializedcheck": DEBUG, "language_level": 3}


def build_jobs():
    """How many files to cythonize and compile at once: TINYTENSOR_BUILD_JOBS, else the cores
    this process may run on. A clean build on 2 cores took 124-150 s one file at a time."""
    env = os.environ.get("TINYTENSOR_BUILD_JOBS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def openmp_flags(compiler):
    """(compile_args, link_args) that enable OpenMP, or None to build serial kernels."""
    if compiler.compiler_type == "msvc":
        flags = (["/openmp"], [])
    else:
        flags = (["-fopenmp"], ["-fopenmp"])
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags[0])
            compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=flags[1])
        except (CompileError, LinkError):
            return None
    return flags


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        # Compile the extensions in parallel unless `-j` said otherwise (pip passes no -j).
        if not self.parallel:
            self.parallel = build_jobs()
        # A release build after a debug one (or the reverse) finds the other mode's binaries
        # newer than its sources and keeps them (seen here): rebuild whenever the mode changes.
        marker = os.path.join(self.build_temp, "tinytensor-build-mode")
        last = open(marker).read() if os.path.exists(marker) else None
        if last != MODE:
            self.force = True
            os.makedirs(self.build_temp, exist_ok=True)
            with open(marker, "w") as f:
                f.write(MODE)

    def build_extensions(self):
        flags = None
        if os.environ.get("TINYTENSOR_OPENMP", "1") != "0":
            flags = openmp_flags(self.compiler)
        if flags is None:
            if os.environ.get("TINYTENSOR_REQUIRE_OPENMP", "0") != "0":
                sys.exit("error: OpenMP is required (TINYTENSOR_REQUIRE_OPENMP=1) but the compiler has none")
            warnings.warn("OpenMP not available: tinytensor kernels will run on one thread")
        for ext in self.extensions:
            if self.compiler.compiler_type != "msvc":
                # debug keeps some optimisation: the suite runs on it in CI, bounds checks on.
                # Release drops the -g of Python's own CFLAGS (the last -g wins): debug info
                # for 13 MB of generated C was a third of the compiler's time.
                ext.extra_compile_args += ["-O3", "-g0"] if not DEBUG else ["-O1", "-g"]
            if flags is not None:
                ext.extra_compile_args += flags[0]
                ext.extra_link_args += flags[1]
        super().build_extensions()


# Cython >= 3.1 can put the utility code every module needs (typed memoryviews, above all)
# into one shared extension instead of a copy in each: 4 MB less C to compile (17.3 -> 13.3 MB,
# pool.c 14.0 -> 10.4 s of compiler time).
SHARED_UTILITY = "tinytensor._cyutility"


def _cython_has_shared_utility():
    from Cython import __version__
    return tuple(int(p) for p in __version__.split(".")[:2] if p.isdigit()) >= (3, 1)


def extensions():
    exts = []
    for path in sorted(glob.glob("tinytensor/**/*.pyx", recursive=True)):
        module = path[:-4].replace(os.sep, ".")
        # C headers beside a .pyx or in c/ (tt_isa.h) are found, and their edits trigger a rebuild
        folder = os.path.dirname(path)
        kernels_c = os.path.join(folder, "c")        # the per-ISA kernel C (tt_isa.h)
        depends = [p for d in (folder, kernels_c) for ext in ("*.h", "*.inc")
                   for p in glob.glob(os.path.join(d, ext))]
        # TT_NO_PORTABLE_TWIN: no "avx512-portable" variant in the extension (c/tt_isa.h)
        # TT_DEBUG_BUILD: tt.show_config() and the benchmarks say which build they run
        macros = [("TT_NO_PORTABLE_TWIN", "1"), ("TT_DEBUG_BUILD", "1" if DEBUG else "0")]
        exts.append(Extension(module, [path], include_dirs=[folder, kernels_c],
                              depends=sorted(depends), define_macros=macros))
    shared = {}
    if _cython_has_shared_utility():
        exts.append(Extension(SHARED_UTILITY, [SHARED_UTILITY.replace(".", os.sep) + ".c"]))
        shared = {"shared_utility_qualified_name": SHARED_UTILITY}
    return cythonize(exts, compiler_directives=DIRECTIVES, build_dir=f"build/cython-{MODE}",
                     annotate=ANNOTATE, force=ANNOTATE, nthreads=build_jobs(), **shared)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})

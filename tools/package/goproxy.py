#!/usr/bin/env python3
"""Writes a Go module proxy tree (GOPROXY=file://OUT) for the core module
github.com/portcullis/portcullis/bindings/go and every adapter module under it (each folder of
bindings/go with its own go.mod).

The core module's zip carries the prebuilt static library for linux/amd64
(lib/linux_amd64/libportcullis.a) and the header (include/portcullis.h); link_repo.go, which
points at the repository's target/ folder, is replaced by link_prebuilt.go, whose
`#cgo linux,amd64` directives link that library, and link_unsupported.go, which stops the build
with a clear message on any other platform. `-tags portcullis_external` keeps working as in
the repository (the library and header come from CGO_CFLAGS/CGO_LDFLAGS).

Usage: goproxy.py VERSION BINDINGS_GO_DIR HEADER STATIC_LIB OUT
"""
import json
import os
import sys
import zipfile

CORE = "github.com/portcullis/portcullis/bindings/go"
# Module zips are reproducible: every entry gets this time, and .info reports it.
STAMP = (2026, 1, 1, 0, 0, 0)
INFO_TIME = "2026-01-01T00:00:00Z"

LINK_PREBUILT = """//go:build !portcullis_external

package portcullis

// The published module links the static library shipped inside it (prebuilt for glibc 2.17
// and later). Inside the repository, link_repo.go links target/release/libportcullis.a instead.

/*
#cgo CFLAGS: -I${SRCDIR}/include
#cgo linux,amd64 LDFLAGS: ${SRCDIR}/lib/linux_amd64/libportcullis.a -lpthread -ldl -lm
*/
import "C"
"""

LINK_UNSUPPORTED = """//go:build !portcullis_external && !(linux && amd64)

package portcullis

/*
#error "portcullis: no prebuilt libportcullis in this module for this GOOS/GOARCH (prebuilt: linux/amd64). Build the library from source (cargo build --release -p portcullis-ffi in the portcullis repository) and build with -tags portcullis_external, CGO_CFLAGS=-I<include dir> and CGO_LDFLAGS='<path>/libportcullis.a -lpthread -ldl -lm' (see the module README)."
*/
import "C"
"""


def module_files(folder):
    """(relative path, absolute path) of every file of the module rooted at folder: nested
    modules (folders with their own go.mod), hidden and build folders are left out."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        if rel_dir != "." and "go.mod" in filenames:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")) and d != "testdata")
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            out.append((rel, os.path.join(dirpath, name)))
    return out


def write_zip(path, prefix, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, data in sorted(entries.items()):
            info = zipfile.ZipInfo(f"{prefix}/{rel}", STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)


def publish(out, module, version, entries):
    folder = os.path.join(out, *module.split("/"), "@v")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "list"), "w") as f:
        f.write(version + "\n")
    with open(os.path.join(folder, f"{version}.info"), "w") as f:
        json.dump({"Version": version, "Time": INFO_TIME}, f)
    with open(os.path.join(folder, f"{version}.mod"), "wb") as f:
        f.write(entries["go.mod"])
    write_zip(os.path.join(folder, f"{version}.zip"), f"{module}@{version}", entries)
    size = os.path.getsize(os.path.join(folder, f"{version}.zip"))
    print(f"{module}@{version}: {len(entries)} files, zip {size / 1024:.1f} KiB")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    version, go_dir, header, lib, out = sys.argv[1:]
    version = "v" + version.lstrip("v")
    core = {rel: read(p) for rel, p in module_files(go_dir) if rel != "link_repo.go"}
    core["link_prebuilt.go"] = LINK_PREBUILT.encode()
    core["link_unsupported.go"] = LINK_UNSUPPORTED.encode()
    core["include/portcullis.h"] = read(header)
    core["lib/linux_amd64/libportcullis.a"] = read(lib)
    for extra in ("LICENSE", "THIRD-PARTY-LICENSES"):
        core[extra] = read(os.path.join(go_dir, "..", "..", extra))
    publish(out, CORE, version, core)
    for name in sorted(os.listdir(go_dir)):
        sub = os.path.join(go_dir, name)
        if os.path.isfile(os.path.join(sub, "go.mod")):
            entries = {rel: read(p) for rel, p in module_files(sub)}
            entries["LICENSE"] = core["LICENSE"]
            publish(out, f"{CORE}/{name}", version, entries)


if __name__ == "__main__":
    main()

"""What a workspace needs to build shmport: one macro for its WORKSPACE.

    local_repository(name = "shmport", path = "/path/to/shmport")
    load("@shmport//bazel:deps.bzl", "shmport_dependencies")
    shmport_dependencies()

and then deps = ["@shmport//client:shmport"]. Declares, unless the
workspace already has them:
  * @rules_cc, @rules_java, @remote_coverage_tools: the small offline
    stand-ins in shmport's third_party/ (Bazel 4.2 asks for them even for
    pure C++ and cannot download them here);
  * @system_libs: Debian's gRPC, protobuf, Abseil (and GoogleTest,
    benchmark) through pkg-config, see third_party/system_libs/.
shmport's own WORKSPACE calls it too. Nothing here names a path of the
calling workspace: the stand-ins are found through a label in this
repository, wherever it is checked out.
"""

load("//third_party/system_libs:system_libs.bzl", "system_libs")

_STAND_INS = ["rules_cc", "rules_java", "remote_coverage_tools"]

def _stand_in_impl(ctx):
    # third_party/BUILD.bazel marks the directory; the stand-in is the
    # sub-directory named like the repository.
    source = ctx.path(ctx.attr._third_party).dirname.get_child(ctx.attr.directory)
    if not source.exists:
        fail("shmport: no stand-in at {}".format(source))
    for entry in source.readdir():
        ctx.symlink(entry, entry.basename)

_stand_in = repository_rule(
    implementation = _stand_in_impl,
    attrs = {
        "directory": attr.string(mandatory = True),
        "_third_party": attr.label(default = Label("//third_party:BUILD.bazel")),
    },
    local = True,
    doc = "One of shmport's offline stand-ins in third_party/, as a repository.",
)

def shmport_dependencies():
    """Declares the repositories shmport needs (those not declared yet)."""
    for name in _STAND_INS:
        if not native.existing_rule(name):
            _stand_in(name = name, directory = name)
    if not native.existing_rule("system_libs"):
        system_libs(name = "system_libs")

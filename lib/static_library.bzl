"""shmport_static_library: one archive with every object of a C++ library.

Bazel builds one archive per cc_library (libport.a, libsession.a, ...); an
installed library must be one file. This rule merges the (PIC) archives of
the given deps and of their transitive deps in this repository with
`ar -M`, and leaves out everything from other repositories (Debian's gRPC,
protobuf and Abseil stay shared libraries, named only by their link flags).

Its CcInfo is the merged archive, always linked whole, plus those link
flags: a cc_binary(linkshared = True) on it gives a shared library with
exactly the archive's objects.
"""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")

def _own_archives_and_flags(ctx):
    archives = []
    flags = []
    for dep in ctx.attr.deps:
        for linker_input in dep[CcInfo].linking_context.linker_inputs.to_list():
            if linker_input.owner.workspace_name != ctx.label.workspace_name:
                flags.extend([f for f in linker_input.user_link_flags if f not in flags])
                continue
            for library in linker_input.libraries:
                archive = library.pic_static_library or library.static_library
                if archive and archive not in archives:
                    archives.append(archive)
    return archives, flags

def _merge(ctx, cc_toolchain, archives):
    out = ctx.actions.declare_file(ctx.attr.out)
    script = ctx.actions.declare_file(ctx.label.name + ".mri")
    lines = ["CREATE " + out.path]
    lines += ["ADDLIB " + a.path for a in archives]
    lines += ["SAVE", "END", ""]
    ctx.actions.write(script, "\n".join(lines))
    ctx.actions.run_shell(
        inputs = archives + [script],
        outputs = [out],
        tools = cc_toolchain.all_files,
        command = '"$1" -M < "$2"',
        arguments = [cc_toolchain.ar_executable, script.path],
        mnemonic = "MergeArchives",
        progress_message = "Merging %d archives into %s" % (len(archives), out.short_path),
    )
    return out

def _shmport_static_library_impl(ctx):
    cc_toolchain = find_cpp_toolchain(ctx)
    archives, flags = _own_archives_and_flags(ctx)
    merged = _merge(ctx, cc_toolchain, archives)
    feature_configuration = cc_common.configure_features(
        ctx = ctx,
        cc_toolchain = cc_toolchain,
    )
    library = cc_common.create_library_to_link(
        actions = ctx.actions,
        feature_configuration = feature_configuration,
        cc_toolchain = cc_toolchain,
        pic_static_library = merged,
        alwayslink = True,
    )
    linker_input = cc_common.create_linker_input(
        owner = ctx.label,
        libraries = depset([library]),
        user_link_flags = depset(flags),
    )
    return [
        DefaultInfo(
            files = depset([merged]),
            runfiles = ctx.runfiles(files = [merged]),
        ),
        CcInfo(linking_context = cc_common.create_linking_context(
            linker_inputs = depset([linker_input]),
        )),
    ]

shmport_static_library = rule(
    implementation = _shmport_static_library_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo]),
        "out": attr.string(mandatory = True),
        "_cc_toolchain": attr.label(
            default = Label("@bazel_tools//tools/cpp:current_cc_toolchain"),
        ),
    },
    fragments = ["cpp"],
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
    doc = "Merges the archives of deps (this repository's only) into one.",
)

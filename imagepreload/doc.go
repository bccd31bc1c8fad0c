// Package imagepreload imports image tarballs from a directory into the
// container runtime, so that pods start on a node that cannot reach a
// registry (air-gapped boot).
//
// A Preloader watches one directory. Every regular file named *.tar (a
// docker-archive, as `docker save` writes it, or an OCI image layout in a
// tar, as `ctr export` or `skopeo copy oci-archive:` write it) is imported
// once it has been quiet (not modified) for Config.Quiet, so a file still
// being copied in is never imported half. What was imported, or failed, is
// remembered by file name, size and modification time, in a state file
// written atomically, so a restart skips the tarballs already imported and
// a failure is reported once per content, not at every rescan.
package imagepreload

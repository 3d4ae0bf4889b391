// Package deploy holds the files that build and install the appliance: the systemd unit
// (proxbox.service), the release script (release.sh, behind make release) and what the container
// image copies besides the binary (container/). It has no Go code of its own; its tests check the
// unit with systemd's own tools (systemd-analyze verify and security) and hold its hardening in
// place, because a sandbox that is too tight breaks the certificate silently (AF_NETLINK), and
// check the release version rules and the Dockerfile's promises (digest-pinned base, numeric
// non-root user, OCI labels, the image built from the release binary).
//
// It must not import any other package of the module.
package deploy

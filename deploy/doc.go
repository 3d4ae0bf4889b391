// Package deploy holds the files that install the appliance on a host: the systemd unit
// (proxbox.service). It has no Go code of its own; its tests check the unit with systemd's
// own tools (systemd-analyze verify and security) and hold its hardening in place, because a
// sandbox that is too tight breaks the certificate silently (AF_NETLINK, issue 15).
//
// It must not import any other package of the module.
package deploy

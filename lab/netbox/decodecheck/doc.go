// Package decodecheck holds only a test: it decodes the NetBox simulator's replies with the
// go-netbox v4.3.0 models our client uses, so a reply that real go-netbox would refuse fails
// here. It lives in its own package so only this test binary pays go-netbox's compile cost
// (about 75 s and 4 GiB). It owns nothing else and must not be imported.
package decodecheck

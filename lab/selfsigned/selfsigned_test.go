package selfsigned

import (
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"
)

func TestNamesAndIPs(t *testing.T) {
	c, err := New(pkix.Name{CommonName: "lab"}, time.Hour, "pve01", "", "10.0.0.5", "::1")
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Leaf
	if leaf.Subject.CommonName != "lab" || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "pve01" || len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.0.0.5")) {
		t.Fatalf("certificate: %v %v %v", leaf.Subject, leaf.DNSNames, leaf.IPAddresses)
	}
	if err := leaf.VerifyHostname("10.0.0.5"); err != nil {
		t.Fatal(err)
	}
	if time.Until(leaf.NotAfter) > time.Hour+time.Minute {
		t.Fatalf("validity %v", leaf.NotAfter)
	}
}

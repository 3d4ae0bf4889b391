package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

var testDNS = StaticResolver{
	"metadata.example.test":             {"169.254.169.254"},
	"169.254.169.254.nip.io":            {"169.254.169.254"},
	"mixed.example.test":                {"10.0.0.5", "169.254.169.254"},
	"pve.example.test":                  {"10.0.0.5"},
	"localhost":                         {"127.0.0.1"},
	"nat64.example.test":                {"64:ff9b::a9fe:a9fe"},
	"proxmox-loopback.example.test":     {"127.0.0.1"},
	"azure-metadata-alias.example.test": {"fd00:ec2::254"},
}

// ssrfForms are the host forms of issue 14 (and neighbours): every one must
// be refused at creation.
var ssrfForms = []string{
	"169.254.169.254", "fe80::a9fe:a9fe%lo", "[fe80::a9fe:a9fe%25lo]", "fe80::1", "[fe80::1]",
	"2852039166", "0251.0376.0251.0376", "0xa9fea9fe", "0xA9.0xFE.0xA9.0xFE", "169.254.43518", "169.254.169.254.",
	"169.254.169.254.nip.io", "metadata.example.test", "mixed.example.test", "nat64.example.test",
	"64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "::a9fe:a9fe", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe",
	"2002:a9fe:a9fe::", "2001:0:4136:e378:8000:63bf:5601:5601", "instance-data.ec2.internal", "INSTANCE-DATA.EC2.INTERNAL",
	"metadata.google.internal", "metadata.google.internal.", "fd00:ec2::254", "[fd00:ec2::254]", "0", "0.0.0.0", "::",
	"100.100.100.200", "224.0.0.1", "ff02::1", "255.255.255.255", "azure-metadata-alias.example.test",
	"10.0.0.0/8", "a..b", "-bad-.example", "exa mple.com",
}

func TestCheckHostRefusesEveryForm(t *testing.T) {
	p := &Policy{Resolver: testDNS}
	for _, h := range ssrfForms {
		if err := p.CheckHost(context.Background(), h); err == nil {
			t.Errorf("CheckHost(%q) accepted a refused target", h)
		}
	}
}

func TestCheckHostAllowsEndpoints(t *testing.T) {
	p := &Policy{Resolver: testDNS}
	for _, h := range []string{"127.0.0.1", "::1", "10.0.0.5", "192.168.1.20", "172.16.0.1", "fd12:3456::1", "2001:db8::10",
		"pve.example.test", "localhost", "pve1", "unresolvable.example.test", "8.8.8.8", "[2001:db8::1]"} {
		if err := p.CheckHost(context.Background(), h); err != nil {
			t.Errorf("CheckHost(%q) = %v, want accepted", h, err)
		}
	}
}

func TestAllowedTargetsOpenARange(t *testing.T) {
	p := &Policy{Resolver: testDNS, Allowed: []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16")}}
	for _, h := range []string{"169.254.169.254", "metadata.example.test", "64:ff9b::a9fe:a9fe"} {
		if err := p.CheckHost(context.Background(), h); err != nil {
			t.Errorf("CheckHost(%q) with 169.254.0.0/16 allowed = %v", h, err)
		}
	}
	if err := p.CheckHost(context.Background(), "fe80::1"); err == nil {
		t.Error("fe80::1 is not in the allowed range and must stay refused")
	}
}

func TestCheckAddrEmbeddedIPv4(t *testing.T) {
	p := &Policy{}
	for _, a := range []string{"64:ff9b::a9fe:a9fe", "::a9fe:a9fe", "2002:a9fe:a9fe::1", "::ffff:169.254.169.254", "fe80::1%eth0",
		"2001:0:4136:e378:8000:63bf:5601:5601"} {
		if err := p.CheckAddr(netip.MustParseAddr(a)); !errors.Is(err, ErrRefused) {
			t.Errorf("CheckAddr(%s) = %v, want ErrRefused", a, err)
		}
	}
	for _, a := range []string{"127.0.0.1", "::1", "64:ff9b::a00:5", "2002:a00:5::1", "10.1.2.3"} {
		if err := p.CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("CheckAddr(%s) = %v, want allowed", a, err)
		}
	}
}

// TestControlRefusesBeforeConnect: the Control hook of a plain net.Dialer
// refuses the metadata address; no packet leaves (the hook runs before
// connect), so the test needs no network.
func TestControlRefusesBeforeConnect(t *testing.T) {
	d := (&Policy{}).Dialer()
	for _, addr := range []string{"169.254.169.254:80", "[fe80::a9fe:a9fe%lo]:80", "[64:ff9b::a9fe:a9fe]:80", "0.0.0.0:80"} {
		_, err := d.DialContext(context.Background(), "tcp", addr)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("dial %s: %v, want ErrRefused", addr, err)
		}
	}
}

// TestDialAfterDNS: a name is resolved by the policy and judged by what it
// resolves to; a name with one refused address is refused as a whole.
func TestDialAfterDNS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p := &Policy{Resolver: testDNS}
	for _, h := range []string{"metadata.example.test", "169.254.169.254.nip.io", "mixed.example.test", "nat64.example.test"} {
		if _, err := p.DialContext(context.Background(), "tcp", net.JoinHostPort(h, port)); !errors.Is(err, ErrRefused) {
			t.Errorf("dial %s: %v, want ErrRefused", h, err)
		}
	}
	c, err := p.DialContext(context.Background(), "tcp", net.JoinHostPort("proxmox-loopback.example.test", port))
	if err != nil {
		t.Fatalf("dial a name resolving to loopback (a lab Proxmox): %v", err)
	}
	c.Close()
}

// TestRedirectToMetadataRefused: a target that redirects to a metadata name
// gets no second connection; the Authorization header goes nowhere.
func TestRedirectToMetadataRefused(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "http://metadata.example.test/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	p := &Policy{Resolver: testDNS}
	client := &http.Client{Transport: p.Transport()}
	resp, err := client.Get(srv.URL)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("redirect to metadata was followed: %d %q", resp.StatusCode, b)
	}
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if hits != 1 {
		t.Fatalf("the first target was hit %d times", hits)
	}
}

func ExamplePolicy_CheckHost() {
	p := &Policy{}
	fmt.Println(p.CheckHost(context.Background(), "0xa9fea9fe"))
	fmt.Println(p.CheckHost(context.Background(), "64:ff9b::a9fe:a9fe"))
	// Output:
	// "0xa9fea9fe" is not a canonical IP address (write IPv4 as four decimal numbers, a.b.c.d)
	// 64:ff9b::a9fe:a9fe is a NAT64 address of 169.254.169.254, which is refused; list it in PROXBOX_ALLOWED_TARGETS to allow it
}

package webhook

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeResolver answers from a fixed table, so the tests need no DNS.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	// The shape of the standard resolver's error, naming the DNS server it asked.
	return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.0.0.2:53", IsNotFound: true}
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestCheckURLRefusesInternalTargets(t *testing.T) {
	t.Parallel()
	res := fakeResolver{
		"localhost":          addrs("127.0.0.1", "::1"),
		"hooks.example.com":  addrs("93.184.215.14"),
		"mixed.example.com":  addrs("93.184.215.14", "10.1.2.3"),
		"rebind.example.com": addrs("169.254.169.254"),
	}
	tests := []struct {
		name, url string
		ok        bool
	}{
		{name: "public https host", url: "https://hooks.example.com/in", ok: true},
		{name: "public https literal", url: "https://93.184.215.14:8443/in", ok: true},
		{name: "public ipv6 literal", url: "https://[2606:4700::1111]/in", ok: true},
		{name: "plain http", url: "http://hooks.example.com/in"},
		{name: "other scheme", url: "ftp://hooks.example.com/in"},
		{name: "credentials", url: "https://user:pw@hooks.example.com/in"},
		{name: "no host", url: "https:///in"},
		{name: "loopback", url: "https://127.0.0.1/in"},
		{name: "loopback elsewhere in 127/8", url: "https://127.5.6.7/in"},
		{name: "10/8", url: "https://10.0.0.5/in"},
		{name: "172.16/12", url: "https://172.16.0.1/in"},
		{name: "172.31 edge", url: "https://172.31.255.254/in"},
		{name: "192.168/16", url: "https://192.168.1.1/in"},
		{name: "cgnat", url: "https://100.64.0.1/in"},
		{name: "link-local", url: "https://169.254.10.10/in"},
		{name: "metadata ipv4", url: "https://169.254.169.254/latest/meta-data"},
		{name: "metadata ipv6", url: "https://[fd00:ec2::254]/"},
		{name: "ipv6 loopback", url: "https://[::1]/in"},
		{name: "ula", url: "https://[fd00::1]/in"},
		{name: "ipv6 link-local", url: "https://[fe80::1]/in"},
		{name: "unspecified", url: "https://0.0.0.0/in"},
		{name: "ipv6 unspecified", url: "https://[::]/in"},
		{name: "multicast", url: "https://224.0.0.1/in"},
		{name: "broadcast", url: "https://255.255.255.255/in"},
		{name: "ipv4-mapped loopback", url: "https://[::ffff:127.0.0.1]/in"},
		{name: "nat64 of a private address", url: "https://[64:ff9b::a00:1]/in"},
		{name: "hostname resolving to loopback", url: "https://localhost/in"},
		{name: "hostname with one private address", url: "https://mixed.example.com/in"},
		{name: "hostname resolving to metadata", url: "https://rebind.example.com/in"},
		{name: "unresolvable host", url: "https://nowhere.example.com/in"},
	}
	p := Policy{Resolver: res}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := p.CheckURL(context.Background(), tc.url)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrForbiddenURL)
		})
	}
}

func TestDevelopmentOptInAllowsLocalReceivers(t *testing.T) {
	t.Parallel()
	p := Policy{AllowPrivate: true, Resolver: fakeResolver{}}
	for _, u := range []string{"http://127.0.0.1:9000/in", "http://localhost:9000/in", "https://10.0.0.5/in", "http://[::1]:9000/"} {
		_, err := p.CheckURL(context.Background(), u)
		require.NoError(t, err, u)
	}
	_, err := p.CheckURL(context.Background(), "ftp://127.0.0.1/")
	require.ErrorIs(t, err, ErrForbiddenURL, "the opt-in still requires http(s)")
}

// The dial-time check refuses a private address even when the URL passed
// registration (a host re-pointed at an internal address later).
func TestDeliveryRefusesPrivateAddressAtDialTime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)

	_, err := Policy{}.Client(5*time.Second).Post(srv.URL, "text/plain", nil)
	require.ErrorIs(t, err, ErrForbiddenURL)

	resp, err := Policy{AllowPrivate: true}.Client(5*time.Second).Post(srv.URL, "text/plain", nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func TestDeliveryRefusesRedirectToPrivateAddress(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, target string }{
		{name: "metadata", target: "http://169.254.169.254/latest/meta-data/"},
		{name: "rfc1918", target: "https://10.0.0.1/"},
		{name: "ipv6 loopback", target: "http://[::1]:1/"},
		{name: "hostname resolving to a private address", target: "http://internal.corp/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tc.target, http.StatusTemporaryRedirect)
			}))
			t.Cleanup(redirector.Close)
			// Trust the redirector's own address only, as if it were a
			// public endpoint; every other internal address stays refused.
			ap := netip.MustParseAddrPort(redirector.Listener.Addr().String())
			p := Policy{
				Resolver:  fakeResolver{"internal.corp": addrs("10.0.0.7")},
				allowHTTP: true,
				trusted:   []netip.Prefix{netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen())},
			}
			resp, err := p.Client(5*time.Second).Post(redirector.URL, "text/plain", nil)
			if resp != nil {
				_ = resp.Body.Close()
			}
			require.ErrorIs(t, err, ErrForbiddenURL)
			require.ErrorContains(t, err, "redirect to")
		})
	}
}

// A name that does not resolve is refused without anything of the resolver: its address is the
// platform's, not the tenant's.
func TestUnresolvableHostHidesTheResolver(t *testing.T) {
	t.Parallel()
	p := Policy{Resolver: fakeResolver{}}
	for _, raw := range []string{"https://metadata.google.internal/x", "https://127.0.0.1.nip.io/x", "https://localtest.me/x"} {
		_, err := p.CheckURL(context.Background(), raw)
		require.ErrorIs(t, err, ErrForbiddenURL, raw)
		require.Contains(t, err.Error(), "does not resolve")
		require.NotContains(t, err.Error(), "10.0.0.2")
		require.NotContains(t, err.Error(), ":53")
		require.NotContains(t, err.Error(), "no such host")
	}
}

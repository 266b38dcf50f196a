package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/infra-mind/infra-mind/pkg/redact"
)

// ErrForbiddenURL is wrapped by every refusal of a webhook URL or of an
// address a delivery would reach.
var ErrForbiddenURL = errors.New("webhook URL not allowed")

// Resolver looks up a host's addresses (net.DefaultResolver satisfies it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy decides which endpoints deliveries may reach. The zero value is the
// production policy: https only, public unicast addresses only.
type Policy struct {
	// AllowPrivate is the development opt-in (IM_WEBHOOK_ALLOW_PRIVATE): it
	// permits plain http and every address, so a receiver on the developer's
	// machine can be used. Never set in production.
	AllowPrivate bool
	// Resolver resolves hosts at registration (nil: net.DefaultResolver).
	Resolver Resolver

	// allowHTTP and trusted let this package's tests reach a local receiver
	// while every other address stays refused; the product has no setting for them.
	allowHTTP bool
	trusted   []netip.Prefix
}

// blockedRange is a range no delivery may reach and why.
type blockedRange struct {
	prefix netip.Prefix
	why    string
}

// blockedRanges lists the ranges no delivery may reach beyond what netip's
// predicates name, each with the RFC (or provider) that reserves it. A
// function rather than a variable: the package keeps no mutable state.
func blockedRanges() []blockedRange {
	return []blockedRange{
		{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" (RFC 791, RFC 1122)"},
		{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"},
		{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"},
		{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved and broadcast (RFC 1112, RFC 919)"},
		{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata service (AWS IPv6)"},
		{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata service (AWS, Azure, GCP)"},
	}
}

// nat64 is the well-known NAT64 prefix (RFC 6052): it embeds an IPv4
// address, which is checked in its place.
func nat64() netip.Prefix { return netip.MustParsePrefix("64:ff9b::/96") }

// CheckAddr reports why a delivery must not reach ip, or nil if it may.
func (p Policy) CheckAddr(ip netip.Addr) error {
	if p.AllowPrivate {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	for _, t := range p.trusted {
		if t.Contains(ip) {
			return nil
		}
	}
	if nat64().Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	why := ""
	for _, b := range blockedRanges() {
		if b.prefix.Contains(ip) {
			why = b.why
			break
		}
	}
	switch {
	case why != "":
	case !ip.IsValid():
		why = "not an IP address"
	case ip.IsUnspecified():
		why = "unspecified"
	case ip.IsLoopback():
		why = "loopback"
	case ip.IsLinkLocalUnicast():
		why = "link-local"
	case ip.IsMulticast():
		why = "multicast"
	case ip.IsPrivate():
		why = "private (RFC 1918 / unique local RFC 4193)"
	}
	if why != "" {
		return fmt.Errorf("%w: address %s is %s", ErrForbiddenURL, ip, why)
	}
	return nil
}

// CheckURL validates raw for registration: an absolute https URL (http only
// with the development opt-in) without credentials, whose host resolves
// only to allowed addresses. It returns the normalised URL.
func (p Policy) CheckURL(ctx context.Context, raw string) (string, error) {
	u, err := p.checkSyntax(raw)
	if err != nil {
		return "", err
	}
	if err := p.checkHost(ctx, u.Hostname()); err != nil {
		return "", err
	}
	return u.String(), nil
}

func (p Policy) checkSyntax(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not a URL: %w", ErrForbiddenURL, err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (p.AllowPrivate || p.allowHTTP):
	case u.Scheme == "http":
		return nil, fmt.Errorf("%w: must use https", ErrForbiddenURL)
	default:
		return nil, fmt.Errorf("%w: scheme must be https, not %q", ErrForbiddenURL, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: has no host", ErrForbiddenURL)
	}
	if u.User != nil {
		// Credentials in a URL end up in logs and listings; the signature
		// already authenticates the sender.
		return nil, fmt.Errorf("%w: must not contain credentials", ErrForbiddenURL)
	}
	u.Fragment = ""
	return u, nil
}

// checkHost resolves host and checks every address it has: a host with one
// private address among public ones could be dialled on that one.
func (p Policy) checkHost(ctx context.Context, host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(ip)
	}
	if p.AllowPrivate {
		return nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		// The resolver's error names the DNS server the platform uses; a tenant learns only that the
		// name does not resolve.
		return fmt.Errorf("%w: host %s does not resolve", ErrForbiddenURL, host)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: host %s has no address", ErrForbiddenURL, host)
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return fmt.Errorf("host %s: %w", host, err)
		}
	}
	return nil
}

// control is the net.Dialer.Control hook: it runs on the address actually
// being dialled, after DNS, so a host that resolves differently at delivery
// time than at registration (DNS rebinding) is still refused.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: dial address %q: %w", ErrForbiddenURL, address, err)
	}
	return p.CheckAddr(ap.Addr())
}

// maxRedirects bounds the redirects a delivery follows.
const maxRedirects = 3

// Client returns the HTTP client deliveries use: every dialled address and
// every redirect target passes the policy, and no proxy is used (a proxy
// would dial on our behalf, out of reach of the check).
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: p.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrForbiddenURL, maxRedirects)
			}
			if _, err := p.checkSyntax(req.URL.String()); err != nil {
				return fmt.Errorf("redirect to %s: %w", redact.URL(req.URL.String()), err)
			}
			if err := p.checkHost(req.Context(), req.URL.Hostname()); err != nil {
				return fmt.Errorf("redirect to %s: %w", redact.URL(req.URL.String()), err)
			}
			return nil
		},
	}
}

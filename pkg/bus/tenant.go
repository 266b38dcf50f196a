package bus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// ErrTenantMismatch marks a message whose tenants disagree. It is permanent.
var ErrTenantMismatch = errors.New("tenant mismatch")

// CheckTenant is the runner's tenant check, made once before any handler
// runs: the ce-tenant header must be set and be the subject's tenant token,
// and a payload carrying metadata.tenant_id (every event in proto/ does) must
// name the same tenant. A payload that is not a JSON object is left to the
// handler's decoding. The error wraps ErrTenantMismatch and ErrPermanent.
func CheckTenant(e *Event) error {
	subjectTenant, _ := TenantOfSubject(e.Subject)
	switch {
	case e.Tenant == "":
		return mismatch("event %s has no ce-tenant", e.ID)
	case subjectTenant != e.Tenant:
		return mismatch("ce-tenant %q does not match the subject %q", e.Tenant, e.Subject)
	}
	tenant, found, err := payloadTenant(e.Data)
	if err != nil {
		return err
	}
	if found && tenant != e.Tenant {
		return mismatch("metadata.tenant_id %q does not match the event's tenant %q", tenant, e.Tenant)
	}
	return nil
}

// payloadTenant reads the tenant of a JSON object's top-level metadata
// member (tenant_id, or its JSON name tenantId). It walks the object's
// members with gjson, which steps over a member's value by matching its
// brackets instead of decoding it: a family's result is up to about 110 KB,
// and decoding the whole payload here (encoding/json) cost about 6% of the
// embedded deployment's CPU under load, twice the handlers' own decoding of
// it. Keys are matched as encoding/json matches them, ignoring case. A
// payload naming metadata, or a tenant within it, more than once is refused:
// a reader that takes the last of them (a webhook subscriber's JSON parser)
// could see another tenant than the first. found is false when data is not
// a JSON object or has no metadata object; the handler's decoding then
// decides.
func payloadTenant(data []byte) (tenant string, found bool, err error) {
	// Read in place: gjson.ParseBytes copies the payload into a string,
	// 114 KB of garbage per result. data is not changed while it is read,
	// and the tenant returned is a copy, so nothing keeps it.
	root := gjson.Parse(unsafe.String(unsafe.SliceData(data), len(data)))
	if !root.IsObject() {
		return "", false, nil
	}
	mds := members(root, "metadata")
	switch {
	case len(mds) > 1:
		return "", false, mismatch("the payload names metadata %d times", len(mds))
	case len(mds) == 0 || !mds[0].IsObject():
		return "", false, nil
	}
	ids := members(mds[0], "tenant_id", "tenantId")
	switch len(ids) {
	case 0:
		return "", true, nil
	case 1:
		if ids[0].Type != gjson.String {
			return strings.Clone(ids[0].Raw), true, nil
		}
		return strings.Clone(ids[0].String()), true, nil
	}
	return "", false, mismatch("the payload's metadata names its tenant %d times", len(ids))
}

// members are obj's members named any of names, ignoring case, in order.
func members(obj gjson.Result, names ...string) []gjson.Result {
	var found []gjson.Result
	obj.ForEach(func(k, v gjson.Result) bool {
		if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(k.String(), n) }) {
			found = append(found, v)
		}
		return true
	})
	return found
}

func mismatch(format string, args ...any) error {
	return Permanent(fmt.Errorf("%w: %s", ErrTenantMismatch, fmt.Sprintf(format, args...)))
}

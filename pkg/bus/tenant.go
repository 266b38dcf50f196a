package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	tenant, found := payloadTenant(e.Data)
	if found && tenant != e.Tenant {
		return mismatch("metadata.tenant_id %q does not match the event's tenant %q", tenant, e.Tenant)
	}
	return nil
}

// payloadMetadata is the part of a payload's metadata the check reads;
// protojson accepts both the proto name and the JSON name of a field.
type payloadMetadata struct {
	TenantID      *string `json:"tenant_id"`
	TenantIDCamel *string `json:"tenantId"`
}

// payloadTenant reads the tenant of a JSON object's top-level "metadata"
// member, reading the object only as far as that member. Every message in
// proto/ has metadata as field 1, which protojson writes first, so the rest
// of the payload (a family's result is up to about 110 KB) is not read: a
// decode of the whole payload here cost about 6% of the embedded
// deployment's CPU under load, twice the handlers' own decoding of it. found
// is false when data is not a JSON object or has no metadata object; the
// handler's decoding then decides. protojson refuses an object naming a field
// twice, so a second "metadata" after the first cannot reach a handler.
func payloadTenant(data []byte) (tenant string, found bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if name, _ := tok.(string); name != "metadata" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return "", false
			}
			continue
		}
		var md *payloadMetadata
		if dec.Decode(&md) != nil || md == nil {
			return "", false
		}
		switch {
		case md.TenantID != nil:
			return *md.TenantID, true
		case md.TenantIDCamel != nil:
			return *md.TenantIDCamel, true
		}
		return "", true
	}
	return "", false
}

func mismatch(format string, args ...any) error {
	return Permanent(fmt.Errorf("%w: %s", ErrTenantMismatch, fmt.Sprintf(format, args...)))
}

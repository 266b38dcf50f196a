package bus

import (
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
	if len(e.Data) == 0 {
		return nil
	}
	// protojson accepts both the proto name and the JSON name of a field.
	var payload struct {
		Metadata *struct {
			TenantID      *string `json:"tenant_id"`
			TenantIDCamel *string `json:"tenantId"`
		} `json:"metadata"`
	}
	if json.Unmarshal(e.Data, &payload) != nil || payload.Metadata == nil {
		return nil
	}
	tenant := ""
	switch {
	case payload.Metadata.TenantID != nil:
		tenant = *payload.Metadata.TenantID
	case payload.Metadata.TenantIDCamel != nil:
		tenant = *payload.Metadata.TenantIDCamel
	}
	if tenant != e.Tenant {
		return mismatch("metadata.tenant_id %q does not match the event's tenant %q", tenant, e.Tenant)
	}
	return nil
}

func mismatch(format string, args ...any) error {
	return Permanent(fmt.Errorf("%w: %s", ErrTenantMismatch, fmt.Sprintf(format, args...)))
}

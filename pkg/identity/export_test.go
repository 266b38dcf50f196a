package identity

// OpenTOTP lets the external tests read a stored TOTP secret back.
func OpenTOTP(k *TOTPKeys, tenant, userID, stored string) (string, error) {
	plain, _, err := k.open(tenant, userID, stored)
	return plain, err
}

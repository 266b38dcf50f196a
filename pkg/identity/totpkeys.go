package identity

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// TOTP secrets are kept encrypted: an authenticator's shared secret must be
// read back to check a code, so it cannot be hashed like a password, and a
// copy of the user collection alone must not let anyone mint codes.
//
// A key set is the text of one secret (IM_AUTH_TOTP_KEYS_SECRET, from the
// secrets provider, or IM_AUTH_TOTP_KEYS_FILE): one key a line,
// "<id>:<base64 of 32 random bytes>", blank lines and lines starting with
// '#' ignored. The first key encrypts; every key decrypts. Rotating is
// storing a new set with a new first line and the old keys below it: each
// stored secret names the key that sealed it, and one sealed with an older
// key (or stored in plain text before encryption) is sealed again with the
// first key when it is next used. Drop an old key only once the secrets
// under it have been used since the rotation (each move is logged).

// sealedPrefix starts every encrypted TOTP secret: enc:v1:<key id>:<base64url(nonce|ciphertext)>.
const sealedPrefix = "enc:v1:"

// keyIDPattern is what a key id may be (it is stored with every ciphertext).
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// TOTPKeys is a parsed key set: AES-256-GCM keys by id, the first encrypting.
type TOTPKeys struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ParseTOTPKeys reads a key set (see above). It names the line of any
// fault and never repeats a key.
func ParseTOTPKeys(text []byte) (*TOTPKeys, error) {
	k := &TOTPKeys{aeads: map[string]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		if !ok || !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("totp keys line %d: want <id>:<base64 key>, the id of letters, digits, '_' and '-'", n)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("totp keys line %d: key id %q appears twice", n, id)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("totp keys line %d (key %s): want 32 bytes in standard base64", n, id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("totp keys line %d (key %s): %w", n, id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("totp keys line %d (key %s): %w", n, id, err)
		}
		k.aeads[id] = aead
		if k.current == "" {
			k.current = id
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("totp keys: %w", err)
	}
	if k.current == "" {
		return nil, errors.New("totp keys: no key")
	}
	return k, nil
}

// NewTOTPKeyLine returns one new key line "<id>:<base64 key>" for a key set.
func NewTOTPKeyLine(id string) (string, error) {
	if !keyIDPattern.MatchString(id) {
		return "", fmt.Errorf("totp key id %q: use letters, digits, '_' and '-'", id)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("totp key: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// Current is the id of the key that encrypts.
func (k *TOTPKeys) Current() string { return k.current }

// additionalData binds a ciphertext to its user: one copied onto another
// user's record does not decrypt.
func additionalData(tenant, userID string) []byte {
	return []byte("infra-mind totp secret\x00" + tenant + "\x00" + userID)
}

// seal encrypts a user's TOTP secret with the current key.
func (k *TOTPKeys) seal(tenant, userID, secret string) (string, error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal totp secret: %w", err)
	}
	ct := aead.Seal(nonce, nonce, []byte(secret), additionalData(tenant, userID))
	return sealedPrefix + k.current + ":" + base64.RawURLEncoding.EncodeToString(ct), nil
}

// errTOTPKeyMissing: the key a stored secret names is not in the set.
var errTOTPKeyMissing = errors.New("the key that encrypted this TOTP secret is not in the key set")

// open decrypts a stored secret and returns the id of its key.
func (k *TOTPKeys) open(tenant, userID, stored string) (string, string, error) {
	id, b64, ok := strings.Cut(strings.TrimPrefix(stored, sealedPrefix), ":")
	if !ok {
		return "", "", errors.New("open totp secret: malformed")
	}
	aead := k.aeads[id]
	if aead == nil {
		return "", id, fmt.Errorf("open totp secret: key %q: %w", id, errTOTPKeyMissing)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", id, errors.New("open totp secret: malformed")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], additionalData(tenant, userID))
	if err != nil {
		return "", id, fmt.Errorf("open totp secret with key %q: %w", id, err)
	}
	return string(plain), id, nil
}

// isSealed reports whether a stored TOTP secret is encrypted (else it is
// a base32 secret stored before encryption, or with no key set).
func isSealed(stored string) bool { return strings.HasPrefix(stored, sealedPrefix) }

// sealedKeyID is the id of the key a stored secret names ("" for plain text).
func sealedKeyID(stored string) string {
	if !isSealed(stored) {
		return ""
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(stored, sealedPrefix), ":")
	return id
}

// TOTPKeyRing holds the key set in force; a rotation swaps it while
// requests read it.
type TOTPKeyRing struct{ keys atomic.Pointer[TOTPKeys] }

// NewTOTPKeyRing holds k.
func NewTOTPKeyRing(k *TOTPKeys) *TOTPKeyRing {
	r := &TOTPKeyRing{}
	r.keys.Store(k)
	return r
}

// Keys is the key set in force.
func (r *TOTPKeyRing) Keys() *TOTPKeys { return r.keys.Load() }

// Set puts k in force.
func (r *TOTPKeyRing) Set(k *TOTPKeys) { r.keys.Store(k) }

// WatchTOTPKeys reads the key set from the named secret of p and re-reads
// it every refresh until ctx ends, so storing a new version rotates the
// keys without a restart. A new version that does not parse, or that drops
// the key in force, is logged and ignored (the keys in force stay). The
// first read must succeed.
func WatchTOTPKeys(ctx context.Context, p secrets.Provider, name string, refresh time.Duration, log *slog.Logger) (*TOTPKeyRing, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ready := make(chan struct{})
	var ring *TOTPKeyRing
	first, err := secrets.Watch(ctx, p, name, refresh, func(s secrets.Secret) {
		select {
		case <-ready:
		case <-ctx.Done():
			return
		}
		k, err := ParseTOTPKeys(s.Value)
		if err != nil {
			log.Error("new TOTP key set refused; the keys in force stay", "secret", name, "version", s.Version, "err", err)
			return
		}
		if _, kept := k.aeads[ring.Keys().Current()]; !kept {
			log.Error("new TOTP key set refused: it drops the key in force, which secrets stored until now need",
				"secret", name, "version", s.Version, "key", ring.Keys().Current())
			return
		}
		ring.Set(k)
		log.Info("TOTP key set rotated", "secret", name, "version", s.Version, "encrypting_key", k.Current())
	}, func(err error) { log.Warn("re-read TOTP key set", "secret", name, "err", err) })
	if err != nil {
		return nil, err
	}
	k, err := ParseTOTPKeys(first.Value)
	if err != nil {
		return nil, fmt.Errorf("secret %s (version %s): %w", name, first.Version, err)
	}
	ring = NewTOTPKeyRing(k)
	close(ready)
	return ring, nil
}

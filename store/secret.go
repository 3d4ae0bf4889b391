package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Secret is a credential in clear text inside the process. It never prints,
// logs or marshals its value: use Reveal where the value must leave.
type Secret string

// Reveal returns the clear text.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a value is present.
func (s Secret) IsSet() bool { return s != "" }

// String redacts.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts (for %#v).
func (s Secret) GoString() string { return s.String() }

// MarshalJSON never emits the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`null`), nil }

// KeyFile is the name of the generated encryption key inside the data dir.
const KeyFile = "secret.key"

const sealedPrefix = "gcm1:"

// secretBox seals credentials with AES-256-GCM.
type secretBox struct{ aead cipher.AEAD }

// MinPassphraseLength is the shortest PROXBOX_ENCRYPTION_KEY accepted.
const MinPassphraseLength = 16

// kdfParams are the argon2id parameters a passphrase is stretched with
// (RFC 9106's second recommended option, with 2 lanes for a small host).
// They are stored beside the salt, so changing the defaults later does not
// orphan existing data. A variable so tests can make it cheap.
var kdfDefaults = kdfParams{Alg: "argon2id", Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

type kdfParams struct {
	Alg       string `json:"alg"`
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"t"`
	MemoryKiB uint32 `json:"m"`
	Threads   uint8  `json:"p"`
}

func (p kdfParams) key(passphrase string) ([]byte, error) {
	if p.Alg != "argon2id" || len(p.Salt) < 16 || p.Time == 0 || p.MemoryKiB < 8*1024 || p.Threads == 0 {
		return nil, fmt.Errorf("encryption key: unsupported key derivation %q in the store", p.Alg)
	}
	return argon2.IDKey([]byte(passphrase), p.Salt, p.Time, p.MemoryKiB, p.Threads, 32), nil
}

// sha256Key is the derivation of proxbox before the KDF: one SHA-256 of the
// passphrase. Only used to migrate data sealed with it.
func sha256Key(passphrase string) []byte {
	sum := sha256.Sum256([]byte(passphrase))
	return sum[:]
}

func newSecretBox(key []byte) (*secretBox, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	return &secretBox{aead: aead}, nil
}

func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) != 32 {
			return nil, fmt.Errorf("encryption key file %s is not 32 base64-encoded bytes", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read encryption key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate encryption key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write encryption key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write encryption key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write encryption key: %w", err)
	}
	return key, f.Close()
}

// seal encrypts v; column binds the ciphertext to its column so a value
// cannot be moved to another field unnoticed.
func (b *secretBox) seal(column string, v Secret) (string, error) {
	if v == "" {
		return "", nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal %s: %w", column, err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(v), []byte(column))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

func (b *secretBox) open(column, stored string) (Secret, error) {
	if stored == "" {
		return "", nil
	}
	raw, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return "", fmt.Errorf("open %s: unknown encoding", column)
	}
	data, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", fmt.Errorf("open %s: corrupt value", column)
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, data[:n], data[n:], []byte(column))
	if err != nil {
		return "", fmt.Errorf("open %s: wrong encryption key or corrupt value (was PROXBOX_ENCRYPTION_KEY changed?)", column)
	}
	return Secret(plain), nil
}

package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File serves secrets from the files of one directory, one file per secret
// named after it: the layout of a Kubernetes secret mounted as a volume.
// A file is re-read when its size or modification time changes, which is
// what the kubelet's atomic symlink swap produces on rotation.
type File struct {
	dir string

	mu    sync.Mutex
	cache map[string]fileEntry
}

type fileEntry struct {
	size    int64
	modTime time.Time
	secret  Secret
}

// NewFile serves the files of dir; the directory must exist.
func NewFile(dir string) (*File, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("secrets directory %s is not a directory", dir)
	}
	return &File{dir: dir, cache: make(map[string]fileEntry)}, nil
}

// Get implements Provider.
func (f *File) Get(_ context.Context, name string) (Secret, error) {
	if err := CheckName(name); err != nil {
		return Secret{}, err
	}
	path := filepath.Join(f.dir, name)
	// Stat follows the symlink, so a swapped ..data target shows as a change.
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Secret{}, fmt.Errorf("secret %s: %w (no file %s)", name, ErrNotFound, path)
	}
	if err != nil {
		return Secret{}, fmt.Errorf("secret %s: %w", name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.cache[name]; ok && e.size == info.Size() && e.modTime.Equal(info.ModTime()) {
		return e.secret, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("secret %s: %w", name, err)
	}
	s := Secret{Value: b, Version: digest(b)}
	f.cache[name] = fileEntry{size: info.Size(), modTime: info.ModTime(), secret: s}
	return s, nil
}

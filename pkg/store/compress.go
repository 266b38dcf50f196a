package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Stored reports and recommendation sets are compressed with Zstandard
// (RFC 8878) at its fastest level (ADR 0057): on the bundled startup-rag
// report, 1.0-1.3 ms and 38,647 bytes where gzip at level 3 took 2.2-2.6 ms
// for 60,975, and the close compresses on the path of every assessment. Those
// written before were gzip (RFC 1952); both are read.

// maxExpanded bounds what one stored document expands to: the largest
// bundled report is about 0.5 MB, and a corrupt or hostile frame must not
// take the process's memory.
const maxExpanded = 64 << 20

var (
	// zstdMagic and gzipMagic open every frame or member of their format
	// (RFC 8878 section 3.1.1, RFC 1952 section 2.3.1).
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	gzipMagic = []byte{0x1f, 0x8b}

	// codecs are built once: an encoder or a decoder allocates its tables,
	// and both are safe for concurrent EncodeAll and DecodeAll calls.
	codecs = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
		if err != nil {
			// Only an invalid option fails, and the options are constants.
			panic(fmt.Sprintf("zstd encoder: %v", err))
		}
		dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxExpanded))
		if err != nil {
			panic(fmt.Sprintf("zstd decoder: %v", err))
		}
		return enc, dec
	})
)

// compress is b as one Zstandard frame.
func compress(b []byte) []byte {
	enc, _ := codecs()
	return enc.EncodeAll(b, make([]byte, 0, len(b)/8))
}

// errUnknownFormat is expand's error for bytes in neither stored format.
var errUnknownFormat = errors.New("compressed in no known format")

// expand reverses compress, and reads the gzip of documents stored before.
func expand(packed []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(packed, zstdMagic):
		_, dec := codecs()
		return dec.DecodeAll(packed, nil)
	case bytes.HasPrefix(packed, gzipMagic):
		zr, err := gzip.NewReader(bytes.NewReader(packed))
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(zr, maxExpanded+1))
		if err == nil && len(b) > maxExpanded {
			err = fmt.Errorf("expands beyond %d bytes", maxExpanded)
		}
		return b, err
	default:
		return nil, errUnknownFormat
	}
}

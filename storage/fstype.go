package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// magic is where a file system writes its signature in its first blocks
// (the values blkid and the kernel's own probes use).
type magic struct {
	fstype string
	off    int64
	sig    []byte
}

var magics = []magic{
	// ext2, ext3 and ext4 share the superblock at 1024 (s_magic at 0x38);
	// the ext4 driver mounts all three.
	{"ext4", 0x438, []byte{0x53, 0xef}},
	{"btrfs", 0x10040, []byte("_BHRfS_M")},
	{"xfs", 0, []byte("XFSB")},
	{"squashfs", 0, []byte("hsqs")},
	{"erofs", 1024, binary.LittleEndian.AppendUint32(nil, 0xe0f5e1e2)},
	{"f2fs", 1024, binary.LittleEndian.AppendUint32(nil, 0xf2f52010)},
}

// errUnknownFS: no known file system signature.
var errUnknownFS = errors.New("no known file system on it (ext2/3/4, btrfs, xfs, squashfs, erofs, f2fs)")

// DetectFS returns the type of the file system on the image or device at
// path, from its signature. The image is opened read-only and only read.
func DetectFS(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oCloexec, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return detect(f)
}

func detect(r io.ReaderAt) (string, error) {
	for _, m := range magics {
		buf := make([]byte, len(m.sig))
		if _, err := r.ReadAt(buf, m.off); err != nil {
			if errors.Is(err, io.EOF) {
				continue // too small for this one
			}
			return "", fmt.Errorf("read: %w", err)
		}
		if bytes.Equal(buf, m.sig) {
			return m.fstype, nil
		}
	}
	return "", errUnknownFS
}

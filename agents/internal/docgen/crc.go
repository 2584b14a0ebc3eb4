package docgen

import (
	"hash"
	"hash/crc32"
)

func newCRC() hash.Hash32 { return crc32.NewIEEE() }

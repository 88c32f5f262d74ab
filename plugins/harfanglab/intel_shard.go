package harfanglab

import (
	"hash/fnv"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// shard is the share of HarfangLab entries one writer owns when several writers apply the same
// change stream (scale-out): each writer reads every change and writes only the IOC values (by
// type and value) and the Sigma/YARA entries (by owner) that hash to its index. Each entry thus
// has exactly one writer, and the end state is the one a single writer gives.
type shard struct{ index, count int }

// owns tells whether key belongs to this writer.
func (s shard) owns(key string) bool {
	if s.count <= 1 {
		return true
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32()%uint32(s.count)) == s.index
}

// iocs keeps the values of in that this writer owns.
func (s shard) iocs(in []intel.IOC) []intel.IOC {
	if s.count <= 1 {
		return in
	}
	out := make([]intel.IOC, 0, len(in))
	for _, ioc := range in {
		if s.owns(iocKey{ioc.Type, ioc.Value}.String()) {
			out = append(out, ioc)
		}
	}
	return out
}

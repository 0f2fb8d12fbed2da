package api

import (
	"path/filepath"
	"sort"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDescribeLogDirs(req *kmsg.DescribeLogDirsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir, err := filepath.Abs(b.dir)
	if err != nil {
		dir = b.dir
	}
	d := kmsg.NewDescribeLogDirsResponseDir()
	d.Dir = dir
	var st syscall.Statfs_t
	if syscall.Statfs(b.dir, &st) == nil {
		d.TotalBytes = int64(st.Blocks) * st.Bsize
		d.UsableBytes = int64(st.Bavail) * st.Bsize
	}
	want := map[string]map[int32]bool{}
	for _, t := range req.Topics {
		want[t.Topic] = map[int32]bool{}
		for _, p := range t.Partitions {
			want[t.Topic][p] = true
		}
	}
	b.mu.RLock()
	names := make([]string, 0, len(b.topics))
	for n := range b.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if req.Topics != nil && want[n] == nil {
			continue
		}
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = n
		for _, p := range b.topics[n].partitions {
			if req.Topics != nil && !want[n][p.Index] {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition, dp.Size = p.Index, p.Log().Size()
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			d.Topics = append(d.Topics, dt)
		}
	}
	b.mu.RUnlock()
	resp.Dirs = append(resp.Dirs, d)
	return resp
}

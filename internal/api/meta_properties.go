package api

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/samsa-kafka/samsa/internal/config"
)

// loadMetaProperties reads meta.properties (Kafka's file naming the cluster
// and node a data directory belongs to), creating it on first start. A data
// directory of another node or cluster is refused.
func loadMetaProperties(dir string, nodeID int32, clusterID string) (string, error) {
	path := filepath.Join(dir, "meta.properties")
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		if clusterID == "" {
			clusterID = newClusterID()
		}
		body := fmt.Sprintf("# written by samsa\nversion=1\ncluster.id=%s\nnode.id=%d\n", clusterID, nodeID)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", err
		}
		return clusterID, syncDir(dir)
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	props, err := config.ParseProperties(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	have := props["cluster.id"]
	if have == "" {
		return "", fmt.Errorf("%s: no cluster.id", path)
	}
	if clusterID != "" && clusterID != have {
		return "", fmt.Errorf("%s belongs to cluster %s, but cluster.id is %s", path, have, clusterID)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(props["node.id"])); err == nil && int32(n) != nodeID {
		return "", fmt.Errorf("%s belongs to node %d, but node.id is %d", path, n, nodeID)
	}
	return have, nil
}

// newClusterID returns a random ID in Kafka's format (base64url of 16 bytes).
func newClusterID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

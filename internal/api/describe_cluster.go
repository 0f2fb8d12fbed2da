package api

import "github.com/twmb/franz-go/pkg/kmsg"

func (b *Broker) handleDescribeCluster(req *kmsg.DescribeClusterRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	adv := b.cfg.AdvertisedListeners[0]
	resp.ClusterID = b.clusterID
	resp.ControllerID = b.cfg.NodeID
	resp.EndpointType = 1 // brokers
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{{NodeID: b.cfg.NodeID, Host: adv.Host, Port: adv.Port}}
	resp.ClusterAuthorizedOperations = authorizedOperations(req.IncludeClusterAuthorizedOperations, clusterOperations)
	return resp
}

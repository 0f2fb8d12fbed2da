package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleFindCoordinator: this node coordinates every group and transaction
// (it leads every partition of __consumer_offsets and __transaction_state).
func (b *Broker) handleFindCoordinator(req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	adv := b.cfg.AdvertisedListeners[0]
	answer := func(key string) (int32, string, int32, int16, *string) {
		switch {
		case req.CoordinatorType > 1:
			msg := "share group coordinators do not exist on this broker"
			return -1, "", -1, kerr.InvalidRequest.Code, &msg
		case key == "" && req.CoordinatorType == 0:
			msg := "empty group ID"
			return -1, "", -1, kerr.InvalidGroupID.Code, &msg
		case key == "":
			msg := "empty transactional ID"
			return -1, "", -1, kerr.InvalidRequest.Code, &msg
		}
		// As Kafka does, finding a coordinator creates its internal
		// topic if it does not exist yet.
		l := b.offsetsLog
		if req.CoordinatorType == 1 {
			l = b.txnLog
		}
		if _, err := l.partition(0); err != nil {
			b.log.Error("creating internal topic", "topic", l.topic, "err", err)
			return -1, "", -1, kerr.CoordinatorNotAvailable.Code, nil
		}
		return b.cfg.NodeID, adv.Host, adv.Port, 0, nil
	}
	if req.Version < 4 {
		resp.NodeID, resp.Host, resp.Port, resp.ErrorCode, resp.ErrorMessage = answer(req.CoordinatorKey)
		return resp
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.NodeID, c.Host, c.Port, c.ErrorCode, c.ErrorMessage = answer(key)
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp
}

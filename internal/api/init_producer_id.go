package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleInitProducerID hands idempotent producers a fresh producer ID with
// epoch 0. Transactions are not implemented yet, so a transactional ID is
// refused rather than silently treated as idempotent-only.
func (b *Broker) handleInitProducerID(req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		b.log.Warn("refusing InitProducerId with a transactional.id: transactions are not implemented yet",
			"transactional_id", *req.TransactionalID)
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	// A producer re-initialising after an error (KIP-360 sends its old ID
	// and epoch) gets a new ID: without transactions there is nothing to
	// fence, and a new ID resets its sequences on every partition.
	id, err := b.meta.NextProducerID()
	if err != nil {
		b.log.Error("allocating producer ID", "err", err)
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}

package api

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleInitProducerID gives an idempotent producer a fresh producer ID, and
// a transactional one its ID with a bumped epoch (fencing older
// incarnations) from the transaction coordinator.
func (b *Broker) handleInitProducerID(req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		pid, epoch, err := b.txns.InitProducerID(*req.TransactionalID,
			time.Duration(req.TransactionTimeoutMillis)*time.Millisecond, req.ProducerID, req.ProducerEpoch)
		if err != nil {
			resp.ErrorCode = txnErrorCode(err, req.Version, 4)
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
		return resp
	}
	// A producer re-initialising after an error (KIP-360 sends its old ID
	// and epoch) gets a new ID: without a transaction there is nothing to
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

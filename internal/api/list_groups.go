package api

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleListGroups(req *kmsg.ListGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	groups, err := b.groups.List()
	if err != nil {
		resp.ErrorCode = err.Code
		return resp
	}
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	for _, g := range groups {
		if !match(req.StatesFilter, string(g.State)) || !match(req.TypesFilter, g.Type) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Group, g.ProtocolType, string(g.State), g.Type
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}

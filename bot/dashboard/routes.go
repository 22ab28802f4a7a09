package dashboard

import "net/http"

// routeTable is every guarded route. Each page's file adds its own.
func (s *Server) routeTable() []Route {
	rs := []Route{
		{Method: http.MethodPost, Path: "logout", Role: Volunteer, handler: s.logout},
		{Method: http.MethodGet, Path: "sessions", Role: Volunteer, handler: s.sessionsPage},
		{Method: http.MethodPost, Path: "sessions/{id}/revoke", Role: Volunteer, handler: s.revokeSession},
		{Method: http.MethodGet, Path: "events", Role: Volunteer, handler: s.events},
	}
	rs = append(rs, s.overviewRoutes()...)
	rs = append(rs, s.queueRoutes()...)
	rs = append(rs, s.funnelRoutes()...)
	rs = append(rs, s.volunteerRoutes()...)
	rs = append(rs, s.broadcastRoutes()...)
	rs = append(rs, s.visitRoutes()...)
	rs = append(rs, s.areaRoutes()...)
	rs = append(rs, s.exportRoutes()...)
	return rs
}

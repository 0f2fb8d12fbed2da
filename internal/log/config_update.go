package log

// SetConfig changes the log's configuration while it is open (a topic's
// configs altered at run time). Roll and index settings apply from the
// next append and the next segment.
func (l *Log) SetConfig(cfg Config) error {
	c, err := cfg.normalize()
	if err != nil {
		return err
	}
	l.appendMu.Lock()
	l.cfg = c
	l.appendMu.Unlock()
	return nil
}

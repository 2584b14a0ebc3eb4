package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// StateBackuper is implemented by a Service that can stream a consistent
// copy of its state file (the daemon does).
type StateBackuper interface {
	BackupState(ctx context.Context, w io.Writer) (int64, error)
}

// stateBackupWriteBudget is how long a backup download may take: the
// copy streams, and a state file of 10,000 customers is tens of MB.
const stateBackupWriteBudget = 10 * time.Minute

// backupState streams GET /api/v1/state/backup: one read transaction of
// the state file, so the daemon goes on writing meanwhile.
func (s *Server) backupState(w http.ResponseWriter, r *http.Request) {
	b, ok := s.svc.(StateBackuper)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this server cannot back up its state")
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(stateBackupWriteBudget))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="state.db"`)
	if _, err := b.BackupState(r.Context(), w); err != nil {
		// Headers are gone once bytes were written: the client sees a
		// short body, which `vdc state backup` refuses by verifying the
		// copy. Log it here.
		s.log.Error("state backup failed", "err", err)
	}
}

// BackupState downloads a consistent copy of the daemon's state file into
// w and returns the bytes written.
func (c *Client) BackupState(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/state/backup", nil, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("download state backup: %w", err)
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" {
		if want, _ := strconv.ParseInt(cl, 10, 64); want != n {
			return n, fmt.Errorf("download state backup: %d of %d bytes", n, want)
		}
	}
	return n, nil
}

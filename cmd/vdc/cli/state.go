package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/state"
)

// stateFlags locate the state file and its key.
type stateFlags struct {
	data, file, keyFile string
}

func (f *stateFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.data, "data", ".vdc", "data directory holding state.db")
	registerStateKey(cmd, &f.keyFile)
}

func (f *stateFlags) path() string {
	if f.file != "" {
		return f.file
	}
	return filepath.Join(f.data, "state.db")
}

func (f *stateFlags) options(e *env) state.Options {
	return state.Options{KeyFile: stateKeyFile(f.keyFile, e.getenv), LockTimeout: 200 * time.Millisecond}
}

func newStateCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "state", Short: "Check, back up and restore the daemon's state file"}
	c.AddCommand(newStateCheckCmd(e), newStateBackupCmd(e), newStateRestoreCmd(e), newStateRotateKeyCmd(e))
	return c
}

func newStateCheckCmd(e *env) *cobra.Command {
	var f stateFlags
	c := &cobra.Command{
		Use:   "check",
		Short: "Verify a state file: bbolt's consistency check and agentvdc's invariants (secrets decrypt with the key)",
		Long: "Verify a state file: bbolt's consistency check and agentvdc's invariants (secrets decrypt with the key).\n" +
			"While the daemon runs it holds DATA/state.db: check a copy instead (vdc state backup COPY, then vdc state check --file COPY).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := f.options(e)
			opts.ReadOnly = true
			if f.file != "" && stateKeyFile(f.keyFile, e.getenv) == "" {
				// A copy elsewhere is checked with the data directory's key.
				opts.KeyFile = filepath.Join(f.data, "state.db") + ".key"
			}
			s, err := state.Open(f.path(), opts)
			if errors.Is(err, state.ErrFileInUse) {
				return fmt.Errorf("%w; while the daemon runs, check a copy: vdc state backup COPY --data %s && vdc state check --file COPY --data %s", err, f.data, f.data)
			}
			if err != nil {
				return err
			}
			defer s.Close()
			problems := s.Check()
			if len(problems) == 0 {
				fi, _ := os.Stat(f.path())
				fmt.Fprintf(e.stdout, "%s: ok (%d bytes, format %d)\n", f.path(), fi.Size(), state.FormatVersion)
				return nil
			}
			for _, p := range problems {
				fmt.Fprintf(e.stdout, "%s: %v\n", f.path(), p)
			}
			return fmt.Errorf("%s: %d problem(s); restore a good copy with vdc state restore BACKUP", f.path(), len(problems))
		},
	}
	f.register(c)
	c.Flags().StringVar(&f.file, "file", "", "check this file instead of DATA/state.db (a backup)")
	return c
}

func newStateBackupCmd(e *env) *cobra.Command {
	var f stateFlags
	var daemonFlags oncallFlags
	c := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the state file to FILE (from the running daemon, else from the file)",
		Long: "Write a consistent copy of DATA/state.db to FILE (mode 0600, written atomically), then verify the copy.\n" +
			"While vdc serve runs, the copy comes from the daemon (GET /api/v1/state/backup, one read transaction). " +
			"The key file is not part of the copy: keep it apart, it is what makes a stolen backup useless.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst := args[0]
			opts := f.options(e)
			opts.ReadOnly = true
			s, err := state.Open(f.path(), opts)
			switch {
			case err == nil:
				err = s.BackupFile(dst)
				s.Close()
				if err != nil {
					return err
				}
			case errors.Is(err, state.ErrFileInUse):
				daemonFlags.data, daemonFlags.format = f.data, "text"
				client, cerr := daemonFlags.client(e)
				if cerr != nil {
					return cerr
				}
				if err := state.WriteAtomic(dst, func(w io.Writer) error {
					_, err := client.BackupState(cmd.Context(), w)
					return daemonFlags.daemonErr(client, err)
				}); err != nil {
					return err
				}
			default:
				return err
			}
			// The copy must open and pass the check, with the key it belongs to.
			vo := f.options(e)
			vo.ReadOnly, vo.Verify = true, true
			if vo.KeyFile == "" {
				vo.KeyFile = f.path() + ".key"
			}
			b, err := state.Open(dst, vo)
			if err != nil {
				return fmt.Errorf("the copy at %s does not verify: %w", dst, err)
			}
			b.Close()
			fi, _ := os.Stat(dst)
			fmt.Fprintf(e.stdout, "state backed up to %s (%d bytes, verified); the key file is not in it: keep it apart\n", dst, fi.Size())
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&daemonFlags.daemon, "daemon", "", "daemon URL when it runs (default $VDC_DAEMON, else DATA/daemon-url)")
	return c
}

func newStateRestoreCmd(e *env) *cobra.Command {
	var f stateFlags
	c := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace DATA/state.db with the backup FILE (stop the daemon first); the replaced file is kept",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := f.options(e)
			if opts.KeyFile == "" {
				opts.KeyFile = f.path() + ".key"
			}
			res, err := state.Restore(args[0], f.path(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "restored %s from %s (%d bytes)\n", f.path(), args[0], res.Bytes)
			if res.Previous != "" {
				fmt.Fprintf(e.stdout, "the replaced file is kept at %s\n", res.Previous)
			}
			return nil
		},
	}
	f.register(c)
	return c
}

func newStateRotateKeyCmd(e *env) *cobra.Command {
	var f stateFlags
	c := &cobra.Command{
		Use:   "rotate-key",
		Short: "Re-encrypt every customer's secrets under a new key (stop the daemon first); the old key is kept for older backups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := state.Open(f.path(), f.options(e))
			if errors.Is(err, state.ErrFileInUse) {
				return fmt.Errorf("%w: stop the daemon first (the key is read once at start)", err)
			}
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.RotateKey(time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "secrets of %d customers re-encrypted under a new key\n", res.Customers)
			if res.OldKey != "" {
				fmt.Fprintf(e.stdout, "the previous key is kept at %s: backups made before now need it; destroy it when they expire\n", res.OldKey)
			}
			return nil
		},
	}
	f.register(c)
	return c
}

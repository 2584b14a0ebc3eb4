package schema

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
)

// ReadDir reads the customer files of dir (a directory on disk) without
// following symbolic links. Paths in the result are rel joined with each
// entry's name, slash-separated, so diagnostics name files as the
// repository does ("customers/acme.yaml").
func ReadDir(dir, rel string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read customers directory: %w", err)
	}
	files := make([]File, 0, len(entries))
	for _, e := range entries {
		f := File{Path: path.Join(filepath.ToSlash(rel), e.Name())}
		switch {
		case e.Type()&os.ModeSymlink != 0:
			f.Symlink = true
		case e.IsDir():
			f.Dir = true
		case !e.Type().IsRegular():
			f.Symlink = true // devices, pipes, sockets: refused like links
		default:
			if err := readCapped(filepath.Join(dir, e.Name()), &f); err != nil {
				return nil, err
			}
		}
		files = append(files, f)
	}
	return files, nil
}

// readCapped reads a file unless it is over MaxFileSize, in which case only
// its size is kept, so a huge file costs no memory.
func readCapped(name string, f *File) error {
	fh, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Path, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", f.Path, err)
	}
	f.Size = st.Size()
	if f.Size > MaxFileSize {
		return nil
	}
	f.Data, err = io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Path, err)
	}
	f.Size = int64(len(f.Data))
	return nil
}

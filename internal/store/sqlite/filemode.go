package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileMode is the mode of the database's files: they hold every payload and
// the sealed secrets, so only their owner may read them, whatever the umask
// and the data directory's mode.
const fileMode = 0o600

// protectFiles creates the database file at path with fileMode if it does
// not exist, and takes the group and other bits off it and its -wal and
// -shm files if it does (a database created by an older version, or copied
// in). SQLite creates the -wal and -shm files with the database file's
// mode, so creating that one right is enough for the others.
func protectFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("database file mode: %w", err)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			if err := os.Chmod(p, m&fileMode); err != nil {
				return fmt.Errorf("database file mode: %w", err)
			}
		}
	}
	return nil
}

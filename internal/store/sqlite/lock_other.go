//go:build !unix

package sqlite

import "os"

// lockFile does nothing where flock(2) is missing; see the package doc.
func lockFile(path string) (*os.File, error) { return nil, nil }

func unlockFile(f *os.File) error { return nil }

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/client"
	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/api"
	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

var keyCommands = []subcommand{
	{"create", "create an API key; prints it once", runKeysCreate},
	{"list", "list API keys", runKeysList},
	{"revoke", "revoke an API key", runKeysRevoke},
}

func runKeys(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "keys", keyCommands, args)
}

// keyOut is an API key as the API returns it.
type keyOut struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Key        string     `json:"key,omitempty"`
	Tenant     *string    `json:"tenant"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func toKeyOut(k *store.APIKey) keyOut {
	return keyOut{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Tenant: k.Tenant, Scopes: store.KeyScopes(k.Scopes),
		CreatedAt: k.CreatedAt.UTC(), LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// keysFlags are the flags of every keys command: the API's, or --data to
// work on the store directly (no server needed, e.g. to make the first key
// when the admin key is lost).
type keysFlags struct {
	*clientFlags
	data string
}

func addKeysFlags(fs *flag.FlagSet) *keysFlags {
	k := &keysFlags{clientFlags: addClientFlags(fs)}
	fs.StringVar(&k.data, "data", "", "work on the data directory DIR directly instead of calling the API")
	return k
}

// withStore opens the store in the --data directory, runs f and closes it.
func (k *keysFlags) withStore(ctx context.Context, e *env, f func(store.Store) error) (err error) {
	if _, err := os.Stat(filepath.Join(k.data, dbFileName)); err != nil {
		return fmt.Errorf("no hookrelay database in %s (run hookrelay serve --data %s once): %w", k.data, k.data, err)
	}
	// API keys are hashed, not sealed: the secret key is needed only to
	// open the store, so a missing key file is not created here.
	var key []byte
	if s := e.getenv("HOOKRELAY_SECRET_KEY"); s != "" {
		if key, err = secretbox.ParseKey(s); err != nil {
			return usagef("HOOKRELAY_SECRET_KEY: %v", err)
		}
	} else if _, err := os.Stat(filepath.Join(k.data, secretKeyFile)); err != nil {
		key = make([]byte, secretbox.KeySize)
		rand.Read(key)
	}
	st, err := openStore(ctx, k.data, key, slog.New(slog.DiscardHandler))
	if errors.Is(err, sqlite.ErrLocked) {
		return fmt.Errorf("the service is running on %s: manage keys through its API (--api, --key) instead of --data", k.data)
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()
	return f(st)
}

// printKeys writes keys as a table.
func printKeys(w io.Writer, ks []keyOut) error {
	rows := make([][]string, len(ks))
	for i, k := range ks {
		state := "active"
		if k.RevokedAt != nil {
			state = "revoked " + fmtTime(k.RevokedAt)
		}
		tenant := "*"
		if k.Tenant != nil {
			tenant = strconv.Quote(*k.Tenant)
		}
		rows[i] = []string{k.ID, orDash(k.Name), k.Prefix + "…", tenant, strings.Join(k.Scopes, ","),
			fmtTime(&k.CreatedAt), fmtTime(k.LastUsedAt), state}
	}
	return table(w, []string{"ID", "NAME", "PREFIX", "TENANT", "SCOPES", "CREATED", "LAST USED", "STATE"}, rows)
}

func runKeysCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("keys create", e.stderr)
	name := fs.String("name", "", "name to recognize the key by")
	tenant := fs.String("tenant", "", "bind the key to this tenant: it sees nothing of the others (default: every tenant)")
	var scopes stringList
	fs.Var(&scopes, "scope", "a scope of the key, repeatable: "+strings.Join(access.Names(access.Scopes), ", ")+" (default: admin)")
	kf := addKeysFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	parsed, err := access.Parse(scopes)
	if err != nil {
		return usagef("--scope: %v", err)
	}
	var tenantOf *string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "tenant" {
			tenantOf = tenant
		}
	})
	var out keyOut
	if kf.data != "" {
		err = kf.withStore(ctx, e, func(st store.Store) error {
			k, key, err := api.NewAPIKey(*name, "", time.Now())
			if err != nil {
				return usagef("%v", err)
			}
			if tenantOf != nil {
				if err := rules.CheckOwnTenant(*tenantOf); err != nil {
					return usagef("--tenant: %v", err)
				}
			}
			k.Tenant, k.Scopes = tenantOf, access.Names(parsed)
			if err := st.CreateAPIKey(ctx, k); err != nil {
				return fmt.Errorf("create api key: %w", err)
			}
			out = toKeyOut(k)
			out.Key = key
			return nil
		})
		if err != nil {
			return err
		}
		if kf.json {
			return writeJSONOut(e, out)
		}
	} else {
		c, err := kf.client(e)
		if err != nil {
			return err
		}
		k, err := c.CreateScopedAPIKey(ctx, &client.KeyParams{Name: *name, Tenant: tenantOf, Scopes: access.Names(parsed)})
		if err != nil {
			return err
		}
		if kf.json {
			return printJSON(e.stdout, k.Raw)
		}
		out = keyOut{ID: k.ID, Key: k.Key}
	}
	fmt.Fprintln(e.stdout, out.Key)
	fmt.Fprintf(e.stderr, "Created API key %s; it is shown only this once.\n", out.ID)
	return nil
}

func runKeysList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("keys list", e.stderr)
	kf := addKeysFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	var out struct {
		Data []keyOut `json:"data"`
	}
	if kf.data != "" {
		err = kf.withStore(ctx, e, func(st store.Store) error {
			ks, err := st.ListAPIKeys(ctx)
			if err != nil {
				return fmt.Errorf("list api keys: %w", err)
			}
			out.Data = make([]keyOut, len(ks))
			for i, k := range ks {
				out.Data[i] = toKeyOut(k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if kf.json {
			return writeJSONOut(e, out)
		}
	} else {
		c, err := kf.client(e)
		if err != nil {
			return err
		}
		page, err := c.ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		if kf.json {
			return printJSON(e.stdout, page.Raw)
		}
		for _, k := range page.Data {
			out.Data = append(out.Data, keyOut{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Tenant: k.Tenant, Scopes: k.Scopes,
				CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt})
		}
	}
	return printKeys(e.stdout, out.Data)
}

func runKeysRevoke(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("keys revoke", e.stderr)
	kf := addKeysFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "key ID"); err != nil {
		return err
	}
	if kf.data != "" {
		err = kf.withStore(ctx, e, func(st store.Store) error {
			if err := st.RevokeAPIKey(ctx, pos[0], time.Now()); err != nil {
				return fmt.Errorf("revoke api key %s: %w", pos[0], err)
			}
			return nil
		})
	} else {
		c, cerr := kf.client(e)
		if cerr != nil {
			return cerr
		}
		err = c.RevokeAPIKey(ctx, pos[0])
	}
	if err != nil {
		return err
	}
	if !kf.json {
		fmt.Fprintf(e.stdout, "revoked %s\n", pos[0])
	}
	return nil
}

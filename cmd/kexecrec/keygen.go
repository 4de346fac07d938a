package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/kexecrec/kexecrec/format"
	"github.com/spf13/cobra"
)

type keygenOptions struct {
	IO     *IOStreams
	Prefix string
	Force  bool
	Format string // "text" or "json"
}

// keygenResult is what keygen made (its JSON document).
type keygenResult struct {
	PrivateKey string `json:"private_key"` // file
	PublicKey  string `json:"public_key"`  // file
	KeyID      string `json:"key_id"`      // the public key in hex, as verify and summarize print it
}

func newKeygenCmd(ios *IOStreams) *cobra.Command {
	opts := &keygenOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "keygen -o PREFIX",
		Short: "Make an Ed25519 key pair for signing captures",
		Long: `keygen writes PREFIX.key (private, mode 0600) and PREFIX.pub (public).

Both are PEM files in OpenSSL's format (PKCS #8 "PRIVATE KEY" and PKIX
"PUBLIC KEY"), so the pair can equally be made with
  openssl genpkey -algorithm ed25519 -out PREFIX.key
  openssl pkey -in PREFIX.key -pubout -out PREFIX.pub
Give PREFIX.key to 'kexecrec record --sign-key' and PREFIX.pub to
'kexecrec verify --pubkey'. Existing files are not overwritten without --force.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runKeygen(opts) },
	}
	cmd.Flags().StringVarP(&opts.Prefix, "output", "o", "", "path prefix of the key files (required)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite existing key files")
	addFormatFlag(cmd, &opts.Format, "text", "json")
	cmd.MarkFlagRequired("output")
	return cmd
}

func runKeygen(opts *keygenOptions) error {
	if err := checkFormat(opts.Format, "text", "json"); err != nil {
		return err
	}
	if opts.Prefix == "" {
		return trouble(errors.New("keygen: -o PREFIX is required"))
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return trouble(err)
	}
	privPEM, err := format.MarshalPrivateKey(priv)
	if err != nil {
		return trouble(err)
	}
	pubPEM, err := format.MarshalPublicKey(pub)
	if err != nil {
		return trouble(err)
	}
	keyPath, pubPath := opts.Prefix+".key", opts.Prefix+".pub"
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if opts.Force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	if err := writeKeyFile(keyPath, privPEM, flags, 0o600); err != nil {
		return trouble(err)
	}
	if err := writeKeyFile(pubPath, pubPEM, flags, 0o644); err != nil {
		return trouble(err)
	}
	res := keygenResult{PrivateKey: keyPath, PublicKey: pubPath, KeyID: hex.EncodeToString(pub)}
	if opts.Format == "json" {
		err = writeJSON(opts.IO.Out, res)
	} else {
		_, err = fmt.Fprintf(opts.IO.Out, "private key: %s (keep it secret)\npublic key:  %s\nkey id:      %s\n", res.PrivateKey, res.PublicKey, res.KeyID)
	}
	if err != nil {
		return trouble(err)
	}
	return nil
}

func writeKeyFile(path string, data []byte, flags int, mode os.FileMode) error {
	f, err := os.OpenFile(path, flags, mode)
	if err != nil {
		return err
	}
	// O_CREATE's mode is filtered by umask and ignored for existing files:
	// set it explicitly so a private key is never left readable by others.
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

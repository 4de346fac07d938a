package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"

	"github.com/kexecrec/kexecrec/format"
	"github.com/spf13/cobra"
)

type keygenOptions struct {
	ios    *IOStreams
	prefix string
	force  bool
}

func newKeygenCmd(ios *IOStreams) *cobra.Command {
	opts := &keygenOptions{ios: ios}
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
	cmd.Flags().StringVarP(&opts.prefix, "output", "o", "", "path prefix of the key files (required)")
	cmd.Flags().BoolVar(&opts.force, "force", false, "overwrite existing key files")
	cmd.MarkFlagRequired("output")
	return cmd
}

func runKeygen(opts *keygenOptions) error {
	if opts.prefix == "" {
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
	keyPath, pubPath := opts.prefix+".key", opts.prefix+".pub"
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if opts.force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	if err := writeKeyFile(keyPath, privPEM, flags, 0o600); err != nil {
		return trouble(err)
	}
	if err := writeKeyFile(pubPath, pubPEM, flags, 0o644); err != nil {
		return trouble(err)
	}
	fmt.Fprintf(opts.ios.Out, "private key: %s (keep it secret)\npublic key:  %s\nkey id:      %x\n", keyPath, pubPath, []byte(pub))
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

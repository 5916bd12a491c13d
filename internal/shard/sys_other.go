//go:build !linux

package shard

import (
	"errors"

	"github.com/petrel-streaming/petrel/internal/model"
)

func pin(model.ShardID) error { return errors.New("shard: pinning is only supported on Linux") }

func availableRAM() (int64, error) {
	return 0, errors.New("shard: reading RAM size is only supported on Linux")
}

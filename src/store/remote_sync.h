// `gemmtune cache push` and `cache pull`: copying records between the local
// file and the fleet's Redis. Unlike tuning, where Redis trouble only costs
// a warning, trouble here fails the command: copying is all it does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gemmtune/catalogue.h"
#include "store/store.h"
#include "store/tuning_cache.h"

namespace gemmtune::store {

// (SyncReport is public: gemmtune/catalogue.h, with the API's
// push_to_remote_cache and pull_from_remote_cache over these two.)

// Every local record to Redis under the deployment's prefix (records with
// the same key are replaced). Throws StoreError naming the server on
// Redis trouble.
SyncReport push_to_remote(Store& local, const RemoteSettings& remote);

// Every record under the prefix into the local file (same keys replaced),
// each size-bounded and validated as an imported record is; bad ones are
// listed and left out. Throws StoreError naming the server on Redis trouble.
SyncReport pull_from_remote(Store& local, const RemoteSettings& remote);

}  // namespace gemmtune::store

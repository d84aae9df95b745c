#include "train/gather_param.h"

#include <algorithm>
#include <vector>

namespace symphony {

Status gather_param(DeviceMesh& mesh, const ParamInfo& info, ConstView block, View whole) {
  if (!info.shard.sharded()) {
    std::copy_n(block.f32(), block.numel(), whole.f32());
    return Status::ok();
  }
  std::vector<float> current(block.f32(), block.f32() + block.numel()), received, joined;
  Shape shape = info.shape;
  const ShardPlacement placement = ShardPlacement::of(mesh.layout(), mesh.world().rank());
  struct Cut {
    Axis axis;
    int dim, blocks;
  };
  std::vector<Cut> cuts;
  if (info.shard.axis2 != Axis::kNone)
    cuts.push_back({info.shard.axis2, info.shard.dim2, placement.blocks2(info.shard)});
  cuts.push_back({info.shard.axis, info.shard.dim, placement.blocks(info.shard)});
  for (const Cut& cut : cuts) {
    Comm& group = mesh.group(cut.axis);
    const int members = group.size();
    const int64_t n = int64_t(current.size());
    received.resize(size_t(n * members));
    SYM_TRY(group.all_gather(current.data(), received.data(), n, CommDType::kF32));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < cut.dim; ++d) outer *= shape.dims[size_t(d)];
    for (int d = cut.dim + 1; d < shape.ndim; ++d) inner *= shape.dims[size_t(d)];
    const int64_t local = shape.dims[size_t(cut.dim)], global = local * cut.blocks;
    joined.resize(size_t(n * cut.blocks));
    for (int j = 0; j < members; ++j) {
      const int64_t b = int64_t(j) * cut.blocks / members;
      for (int64_t o = 0; o < outer; ++o)
        std::copy_n(received.data() + j * n + o * local * inner, local * inner,
                    joined.data() + (o * global + b * local) * inner);
    }
    shape.dims[size_t(cut.dim)] = global;
    current.swap(joined);
  }
  SYM_CHECK(int64_t(current.size()) == whole.numel(), "{}: gathered {} of {} elements", info.name,
            current.size(), whole.numel());
  std::copy(current.begin(), current.end(), whole.f32());
  return Status::ok();
}


}  // namespace symphony

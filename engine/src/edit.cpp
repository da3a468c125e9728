// edit.cpp — see edit.h.
#include "edit.h"

#include "region.h"

namespace cocoedit {

void edit_image(Pipeline &model, const cocoedit_image &source, const cocoedit_image *mask,
                const EditRequest &req, cocoedit_image &output) {
  const Rect crop = expand_rect(mask_bounds(mask, source.width, source.height), req.context_margin,
                                source.width, source.height);
  at::Tensor edited;
  {
    at::InferenceMode inference;
    edited = model.edit(read_rgb(source, crop), read_mask(mask, crop), req);
  }
  enter_stage(req.on_stage, COCOEDIT_STAGE_COMPOSITE);
  composite(source, mask, edited, crop, output);
}

}  // namespace cocoedit

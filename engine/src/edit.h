// edit.h — one edit of a whole image: the region pipeline around the sampler.
#pragma once

#include <string>

#include "cocoedit.h"
#include "model.h"
#include "sampler.h"

namespace cocoedit {

struct EditRequest {
  std::string prompt;
  uint64_t seed = 0;
  int steps = 20;
  Guidance guidance;
  double strength = 1.0;
  int working_size = 0;     // long side; 0 = the config's image_size
  int context_margin = -1;  // < 0: a quarter of the mask's bounding box
  StepCallback on_step;
};

// Crops the mask's bounding box plus context from `source`, edits it at the
// working size on `device`, and composites the result into `output` with the
// mask.  Nothing is written to `output` unless the whole edit succeeded.
void edit_image(EditModelImpl &model, const at::Device &device, const cocoedit_image &source,
                const cocoedit_image *mask, const EditRequest &request, cocoedit_image &output);

}  // namespace cocoedit

// edit.h — one edit of a whole image: the region pipeline around a model
// family's Pipeline (the same for every family).
#pragma once

#include "cocoedit.h"
#include "pipeline.h"

namespace cocoedit {

// Crops the mask's bounding box plus context from `source`, has `model` edit
// the crop, and composites the result into `output` with the mask.  Nothing
// is written to `output` unless the whole edit succeeded.
void edit_image(Pipeline &model, const cocoedit_image &source, const cocoedit_image *mask,
                const EditRequest &request, cocoedit_image &output);

}  // namespace cocoedit

// File names of PALs parameters. AdapterHub has no PALs, so the names are ours, in its layout: a layer's projected
// attention under `...encoder.layer.3.output.pals.NAME.query.weight`, and the shared projections under
// `...shared.pals.NAME.encoder.weight` (plus core's `shared_parameters.NAME.encoder.weight`).

/** The plugin's `hubCollection`: the ModuleDict name between a module path and the adapter name. */
export const PALS_HUB_COLLECTION = 'pals';

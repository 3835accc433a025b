"""Physical inputs: plain numbers in the unit a parameter's name gives, or astropy Quantity.

Every helper parameter that carries a physical value names its unit (``wavelength_um``,
``source_temperature_k``, ``offset_arcsec``) and accepts either a plain number (taken to be in
that unit) or an :class:`astropy.units.Quantity` in any compatible unit, which is converted.
A Quantity of the wrong kind raises one :class:`astropy.units.UnitConversionError` naming the
parameter and the unit it expects.
"""

import numpy as np
from astropy import units as u

#: equivalencies that make sense for each target unit's physical type
_EQUIVALENCIES = {
    "length": u.spectral(),          # a wavelength may come as a frequency or an energy
    "temperature": u.temperature(),  # deg C and deg F convert to K
}


def to_value(value, unit, name):
    """A physical input as a plain float or numpy array in ``unit``.

    Parameters
    ----------
    value : float, array_like or astropy.units.Quantity
        Plain numbers are returned unchanged (they are already in ``unit``); a Quantity is
        converted.
    unit : str or astropy.units.Unit
        The unit the caller works in, e.g. ``"um"``, ``"K"``, ``"arcsec"``.
    name : str
        The parameter's name, for the error message.

    Returns
    -------
    float or numpy.ndarray
        The value in ``unit``.

    Raises
    ------
    astropy.units.UnitConversionError
        ``value`` is a Quantity that cannot be expressed in ``unit`` (e.g. a length for a
        temperature).
    """
    if not isinstance(value, u.Quantity):
        return value
    unit = u.Unit(unit)
    equivalencies = _EQUIVALENCIES.get(str(unit.physical_type), [])
    try:
        converted = value.to_value(unit, equivalencies=equivalencies)
    except u.UnitConversionError:
        raise u.UnitConversionError(
            f"{name} is in {value.unit}, which cannot be converted to {unit} (expected a "
            f"{unit.physical_type}); pass a Quantity in a compatible unit or a plain number in {unit}") from None
    return float(converted) if np.ndim(converted) == 0 else np.asarray(converted)

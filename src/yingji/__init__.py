"""yingji (应急): county emergency-management platform."""

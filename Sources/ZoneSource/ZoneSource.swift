public enum ZoneSource {}

import QtQuick
import QtQuick.Layouts

// One earlier call in the history: the number, and where that customer went.
Rectangle {
    id: tile
    required property string number
    required property var counter
    required property var languages
    required property real unit
    property bool compact: width < unit * 20  // a narrow tile: smaller type, no elision
    required property var colors
    radius: unit * 0.4
    color: colors.tile
    RowLayout {
        anchors { fill: parent; leftMargin: tile.unit; rightMargin: tile.unit }
        spacing: tile.unit
        Text {
            text: tile.number
            color: colors.text
            font.pixelSize: tile.unit * (tile.compact ? 2.0 : 2.4)
            font.bold: true
            Layout.preferredWidth: tile.unit * (tile.compact ? 5 : 6)
        }
        Text {
            text: "→"
            color: colors.accent
            font.pixelSize: tile.unit * 1.5
        }
        ColumnLayout {
            spacing: 0
            Layout.fillWidth: true
            Repeater {
                model: tile.languages
                Text {
                    required property var modelData
                    required property int index
                    text: tile.counter[modelData]
                    color: tile.colors.text
                    font.pixelSize: tile.unit * (index === 0 ? (tile.compact ? 1.1 : 1.3) : 1.0)
                    fontSizeMode: Text.HorizontalFit  // smaller, never cut short
                    minimumPixelSize: tile.unit * 0.6
                    Layout.fillWidth: true
                }
            }
        }
    }
}

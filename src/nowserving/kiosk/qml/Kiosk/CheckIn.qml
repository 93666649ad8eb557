import QtQuick
import QtQuick.Layouts

// "I have an appointment": the booking code typed on a keypad of the characters a code
// may hold (a scanner's code needs none of this: the kiosk takes it on any screen).
Rectangle {
    id: entry
    required property var kiosk
    required property real unit
    // The controller goes before this item when the window closes: nothing to show then.
    readonly property var s: kiosk ? kiosk.strings : ({ checkin_title: "", checkin_hint: "",
                                                        phone_delete: "", back: "",
                                                        checkin_ok: "" })
    readonly property string code: kiosk ? kiosk.codeText : ""
    readonly property bool complete: kiosk ? kiosk.codeComplete : false
    readonly property int columns: width > height ? 7 : 5
    // Keys at least 9 mm high on a 7" screen, as wide as the screen lets them be.
    readonly property real keyWidth: Math.min(unit * 5.5,
                                              (width * 0.92 - (columns - 1) * unit * 0.4) / columns)
    objectName: "checkInScreen"
    color: "#0b1f3a"
    MouseArea { anchors.fill: parent }  // taps do not reach what is below

    ColumnLayout {
        anchors.centerIn: parent
        width: parent.width * 0.92
        spacing: entry.unit * 0.6

        Text {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            color: "#ffffff"
            font.pixelSize: entry.unit * 2
            font.bold: true
            text: entry.s.checkin_title
        }
        Text {  // the code as typed: two groups of five, the rest to come as "_"
            objectName: "codeText"
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            color: "#f5b301"
            font.pixelSize: entry.unit * 2.4
            font.bold: true
            font.family: "monospace"
            text: {
                const padded = (entry.code + "__________").slice(0, 10)
                return padded.slice(0, 5) + " " + padded.slice(5)
            }
        }
        Text {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            color: "#ffffff"
            font.pixelSize: entry.unit * 1.3
            text: entry.s.checkin_hint
        }
        GridLayout {
            Layout.alignment: Qt.AlignHCenter
            columns: entry.columns
            rowSpacing: entry.unit * 0.4
            columnSpacing: entry.unit * 0.4
            Repeater {
                model: entry.kiosk ? entry.kiosk.codeKeys.concat(["del"]) : []
                delegate: Rectangle {
                    required property string modelData
                    objectName: "code-key-" + modelData
                    implicitWidth: entry.keyWidth
                    implicitHeight: entry.unit * 3.6
                    radius: entry.unit * 0.4
                    color: "#ffffff"
                    Text {
                        anchors.centerIn: parent
                        width: Math.min(implicitWidth, parent.width - 4)
                        text: parent.modelData === "del" ? entry.s.phone_delete : parent.modelData
                        color: "#10213a"
                        font.pixelSize: entry.unit * (parent.modelData === "del" ? 1.2 : 1.9)
                        fontSizeMode: Text.HorizontalFit
                        minimumPixelSize: entry.unit * 0.8
                        horizontalAlignment: Text.AlignHCenter
                        font.bold: true
                    }
                    MouseArea {
                        anchors.fill: parent
                        onClicked: entry.kiosk.touchCodeKey(parent.modelData)
                    }
                }
            }
        }
        Row {
            Layout.alignment: Qt.AlignHCenter
            spacing: entry.unit * 2
            Repeater {
                model: [{ text: entry.s.back, action: "back", primary: false },
                        { text: entry.s.checkin_ok, action: "check_in", primary: true }]
                delegate: Rectangle {
                    required property var modelData
                    readonly property bool usable: modelData.action === "back"
                                                   || entry.complete
                    objectName: "choice-" + modelData.action + "-"
                    implicitWidth: Math.min((entry.width * 0.92 - entry.unit * 2) / 2,
                                            Math.max(entry.unit * 11, label.implicitWidth + entry.unit * 3))
                    implicitHeight: entry.unit * 4
                    radius: entry.unit * 0.6
                    color: modelData.primary ? "#f5b301" : "#ffffff"
                    opacity: usable ? 1 : 0.4
                    Text {
                        id: label
                        anchors.centerIn: parent
                        width: Math.min(implicitWidth, parent.width - entry.unit)
                        fontSizeMode: Text.HorizontalFit
                        minimumPixelSize: entry.unit
                        horizontalAlignment: Text.AlignHCenter
                        text: parent.modelData.text
                        color: "#10213a"
                        font.pixelSize: entry.unit * 1.6
                        font.bold: true
                    }
                    MouseArea {
                        anchors.fill: parent
                        onClicked: parent.modelData.action === "back" ? entry.kiosk.back()
                                                                       : entry.kiosk.checkIn()
                    }
                }
            }
        }
    }
}
